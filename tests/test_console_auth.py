"""Console sign-in and its guards: passwords, cookies, CSRF, roles, throttling, the CLI."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from ivr.app import create_app
from ivr.console import auth
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.clock import VirtualClock
from ivr.store import accounts, agents, audit
from tests.conftest import OPEN, paris
from tests.console_helpers import csrf_of, make_agent, sign_in

MakeClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


async def _client(aiohttp_client: MakeClient, settings: Settings, flow: Flow,
                  pool: asyncpg.Pool) -> tuple[TestClient[Any, Any], VirtualClock]:
    clock = VirtualClock(paris(OPEN))
    return await aiohttp_client(create_app(settings, clock=clock, flow=flow, pool=pool)), clock


async def test_wrong_password_is_refused_and_right_one_opens_a_session(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """A wrong password gets 401 and no session; the right one a strict HttpOnly cookie."""
    client, clock = await _client(aiohttp_client, settings, flow, pool)
    await make_agent(pool, "Claire", "+33477000001", ["immigration"], clock.now())
    wrong = await sign_in(client, "Claire", "pas-le-bon")
    assert wrong.status == 401
    assert "Identifiant ou mot de passe incorrect" in await wrong.text()
    assert auth.COOKIE not in wrong.cookies
    unknown = await sign_in(client, "Personne")
    assert unknown.status == 401
    right = await sign_in(client, "claire")
    assert right.status == 303
    cookie = right.cookies[auth.COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert not cookie["secure"]
    page = await client.get("/console")
    assert page.url.path == "/console/agent"
    assert "Mon poste — Claire" in await page.text()


async def test_cookie_is_secure_when_the_public_url_is_https(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """Behind https, the session cookie carries Secure."""
    secure = settings.with_overrides(public_url="https://standard.example.fr")
    client, clock = await _client(aiohttp_client, secure, flow, pool)
    agent_id = await make_agent(pool, "Claire", "+33477000001", ["immigration"], clock.now())
    form = await client.get("/console/login")
    assert "Secure" in form.headers["Set-Cookie"]
    # The test client speaks http, so it keeps Secure cookies to itself: send it by hand.
    token = csrf_of(await form.text())
    signed = await client.post("/console/login", allow_redirects=False,
                               headers={"Cookie": f"{auth.LOGIN_COOKIE}={token}"},
                               data={"login": str(agent_id), "password": "mot-de-passe-1",
                                     "csrf": token})
    assert signed.status == 303
    assert "Secure" in signed.headers["Set-Cookie"]


async def test_forms_without_the_csrf_token_change_nothing(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """A missing or wrong CSRF token is 403; the right one changes the status, audited."""
    client, clock = await _client(aiohttp_client, settings, flow, pool)
    agent_id = await make_agent(pool, "Claire", "+33477000001", ["immigration"], clock.now())
    await sign_in(client, "Claire")
    page = await client.get("/console/agent")
    token = csrf_of(await page.text())
    for data in ({"status": "available"}, {"status": "available", "csrf": "faux"}):
        refused = await client.post("/console/agent/status", data=data, allow_redirects=False)
        assert refused.status == 403
        assert "jeton de sécurité" in await refused.text()
    assert (await agents.list_all(pool, clock.now()))[0].status == "offline"
    done = await client.post("/console/agent/status", allow_redirects=False,
                             data={"status": "break", "reason": "déjeuner", "csrf": token})
    assert done.status == 303
    claire = (await agents.list_all(pool, clock.now()))[0]
    assert (claire.status, claire.note) == ("offline", "Pause : déjeuner")
    entry = (await audit.recent(pool))[0]
    assert (entry.actor, entry.surface, entry.action, entry.target) == (
        f"Claire (#{agent_id})", "console", "agent.status", f"agent:{agent_id}")
    bad = await client.post("/console/agent/status", allow_redirects=False,
                            data={"status": "break", "reason": "", "csrf": token})
    assert bad.status == 303
    assert "err=1" in bad.headers["Location"]


async def test_an_agent_cannot_open_the_managers_page(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """A standardist gets 403 on the manager's page, its forms and its live stream."""
    client, clock = await _client(aiohttp_client, settings, flow, pool)
    await make_agent(pool, "Claire", "+33477000001", ["immigration"], clock.now())
    await sign_in(client, "Claire")
    token = csrf_of(await (await client.get("/console/agent")).text())
    assert (await client.get("/console/manager")).status == 403
    crisis = await client.post("/console/manager/crisis", allow_redirects=False,
                               data={"action": "on", "message": "x", "csrf": token})
    assert crisis.status == 403
    assert (await client.get("/console/events?view=manager")).status == 403


async def test_signed_out_visitors_are_sent_to_the_sign_in_form(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """Without a session, pages redirect to /console/login and the stream is 401."""
    client, _ = await _client(aiohttp_client, settings, flow, pool)
    for path in ("/console", "/console/agent", "/console/manager"):
        response = await client.get(path, allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (303, "/console/login")
    assert (await client.get("/console/events")).status == 401
    posted = await client.post("/console/agent/status", data={"status": "available"},
                               allow_redirects=False)
    assert posted.status == 303


async def test_sign_in_is_throttled_per_login(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """After five failures in 15 minutes even the right password waits; later it works."""
    client, clock = await _client(aiohttp_client, settings, flow, pool)
    agent_id = await make_agent(pool, "Claire", "+33477000001", ["immigration"], clock.now())
    # By name or by number, the failures count against the same agent.
    for n in range(auth.MAX_FAILURES_PER_LOGIN):
        login = "Claire" if n % 2 else str(agent_id)
        assert (await sign_in(client, login, "devine")).status == 401
    assert (await sign_in(client, str(agent_id))).status == 429
    blocked = await sign_in(client, "Claire")
    assert blocked.status == 429
    assert "Trop de tentatives" in await blocked.text()
    clock.advance(16 * 60)
    assert (await sign_in(client, "Claire")).status == 303


async def test_sign_in_is_throttled_per_address(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """Twenty failures from one address, whatever the logins, block that address."""
    client, clock = await _client(aiohttp_client, settings, flow, pool)
    await make_agent(pool, "Claire", "+33477000001", ["immigration"], clock.now())
    for n in range(auth.MAX_FAILURES_PER_ADDRESS):
        await accounts.record_failure(pool, f"login-{n}", "127.0.0.1", clock.now())
    assert (await sign_in(client, "Claire")).status == 429


async def test_sign_in_form_needs_its_own_token(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """A sign-in posted from elsewhere (no double-submit token) is refused."""
    client, clock = await _client(aiohttp_client, settings, flow, pool)
    await make_agent(pool, "Claire", "+33477000001", ["immigration"], clock.now())
    posted = await client.post("/console/login", allow_redirects=False,
                               data={"login": "Claire", "password": "mot-de-passe-1"})
    assert posted.status == 403


async def _ivr(db_url: str, tmp: Path, *args: str, stdin: str = "") -> tuple[int, str]:
    binary = Path(sys.executable).parent / "ivr"
    process = await asyncio.create_subprocess_exec(
        str(binary), *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"DATABASE_URL": db_url, "IVR_DATA_DIR": str(tmp), "PATH": "/usr/bin:/bin"})
    out, _ = await process.communicate(stdin.encode())
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_cli_adds_a_manager_and_sets_a_password_from_stdin(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path) -> None:
    """`ivr agents add --role manager` then `ivr agents password ID` < stdin: Argon2 stored."""
    code, out = await _ivr(db_url, tmp_path, "agents", "add", "Mme Responsable",
                           "+33477000042", "--services", "reception", "--role", "manager")
    assert code == 0, out
    agent_id = int(out.split("added agent ")[1].split(":")[0])
    code, out = await _ivr(db_url, tmp_path, "agents", "password", str(agent_id),
                           stdin="un-secret-solide\n")
    assert code == 0, out
    account = await accounts.find_for_login(pool, "mme responsable")
    assert account is not None
    assert account.role == "manager"
    assert account.password_hash is not None
    assert account.password_hash.startswith("$argon2id$")
    assert await auth.check_password(account.password_hash, "un-secret-solide")
    short, out = await _ivr(db_url, tmp_path, "agents", "password", str(agent_id), stdin="court\n")
    assert short == 2
    assert "at least 8" in out
    missing, _ = await _ivr(db_url, tmp_path, "agents", "password", "999", stdin="assez-long\n")
    assert missing == 1


async def test_signing_out_offline_ends_the_session_and_is_audited(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """The standardist's sign-out button: offline, session gone, recorded under their name."""
    client, clock = await _client(aiohttp_client, settings, flow, pool)
    agent_id = await make_agent(pool, "Claire", "+33477000001", ["immigration"], clock.now())
    await agents.set_status(pool, agent_id, "available", clock.now())
    await sign_in(client, "Claire")
    token = csrf_of(await (await client.get("/console/agent")).text())
    out = await client.post("/console/logout", allow_redirects=False,
                            data={"csrf": token, "offline": "1"})
    assert (out.status, out.headers["Location"]) == (303, "/console/login")
    assert (await agents.list_all(pool, clock.now()))[0].status == "offline"
    assert await pool.fetchval("SELECT count(*) FROM console_sessions") == 0
    assert (await client.get("/console/agent", allow_redirects=False)).status == 303
    entry = (await audit.recent(pool))[0]
    assert (entry.actor, entry.action, entry.detail["to"]) == (
        f"Claire (#{agent_id})", "agent.status", "offline")


async def test_login_by_id_takes_only_ascii_digits(pool: asyncpg.Pool) -> None:
    """A login is an id only when it is ASCII digits in range: "²" or a huge number is no
    one (never a crash), and the agent's own id finds them."""
    agent_id = await make_agent(pool, "Claire", "+33477000001", ["reception"], paris(OPEN))
    found = await accounts.find_for_login(pool, str(agent_id))
    assert found is not None
    assert found.name == "Claire"
    for login in ("²", "٣", "99999999999999999999"):
        assert await accounts.find_for_login(pool, login) is None, login
