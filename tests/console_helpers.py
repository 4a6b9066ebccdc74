"""Shared steps of the console tests: agents with passwords, signing in over HTTP."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from ivr.console.auth import hash_password
from ivr.store import accounts, agents

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def make_agent(pool: asyncpg.Pool, name: str, contact: str, services: list[str],
                     now: datetime, *, password: str = "mot-de-passe-1",
                     role: str = "agent") -> int:
    """An agent who can sign in to the console."""
    agent = await agents.add(pool, name, contact, services, now)
    await accounts.set_password_hash(pool, agent.id, hash_password(password))
    await accounts.set_role(pool, agent.id, role)
    return agent.id


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


async def sign_in(client: TestClient[Any, Any], login: str,
                  password: str = "mot-de-passe-1") -> Any:
    """Fill the sign-in form as a browser would; the response is not followed."""
    form = await client.get("/console/login")
    token = csrf_of(await form.text())
    return await client.post("/console/login", allow_redirects=False,
                             data={"login": login, "password": password, "csrf": token})


def axe_source() -> str:
    """axe-core's minified script, as shipped in the axe-playwright-python wheel (MPL-2.0)."""
    from importlib.resources import files

    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


async def serious_violations(page: Any) -> list[str]:
    """axe-core run in the page: the serious and critical violations, one line each."""
    await page.add_script_tag(content=axe_source())
    result = await page.evaluate("async () => await axe.run(document)")
    return [f"{v['id']} ({v['impact']}): {v['help']} — "
            f"{[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]
