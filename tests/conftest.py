"""A real PostgreSQL for the whole session; each test gets its own database from a template."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ivr.app import create_app
from ivr.db.embedded import EmbeddedPostgres
from ivr.db.migrate import migrate_url
from ivr.db.pool import create_pool
from ivr.flow.loader import load_flow
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from tests.loopback import loopback

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "ivr_template"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "0" * 32
_numbers = itertools.count()


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """DATABASE_URL if set, otherwise an embedded PostgreSQL in a temporary folder."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    with tempfile.TemporaryDirectory(prefix="ivr-test-pg-") as folder:
        server = EmbeddedPostgres(Path(folder))
        try:
            yield server.start()
        finally:
            server.stop()


@pytest.fixture(scope="session")
async def template_url(server_url: str) -> str:
    """A migrated template database that each test's database is copied from."""
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await conn.close()
    url = with_database(server_url, TEMPLATE)
    await migrate_url(url)
    return url


@pytest.fixture
async def db_url(server_url: str, template_url: str) -> AsyncIterator[str]:
    """A fresh migrated database for one test."""
    name = f"ivr_test_{os.getpid()}_{next(_numbers)}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    finally:
        await conn.close()
    yield with_database(server_url, name)
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test's database."""
    created = await create_pool(db_url, max_size=5)
    yield created
    await created.close()


@pytest.fixture(scope="session")
def flow() -> Flow:
    """The Loire flow."""
    return load_flow(ROOT / "flows" / "loire.yaml")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for an in-process server (the harness sets the URLs)."""
    return Settings(
        database_url=None, data_dir=tmp_path, host="127.0.0.1", port=8080,
        public_url="http://127.0.0.1:8080", twilio_auth_token=AUTH_TOKEN,
        twilio_account_sid=ACCOUNT_SID, twilio_api_base_url="http://127.0.0.1:9",
        agent_caller_id="+33477000000", reception_number=None,
        flow_path=ROOT / "flows" / "loire.yaml", admin_token="admin-token-for-tests",
        hash_key=b"k" * 32, wrap_up_seconds=10)


def paris(text: str) -> datetime:
    """A Europe/Paris wall-clock time as an aware UTC datetime."""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)


# A Wednesday morning, when the switchboard is open.
OPEN = "2026-11-25T10:00"


@pytest.fixture
async def harness(settings: Settings, flow: Flow, db_url: str) -> AsyncIterator[Harness]:
    """The server on a Wednesday morning, on virtual time, with the simulator on its side."""
    async with running(settings, flow, db_url, paris(OPEN)) as h:
        yield h


pytest_plugins = ["tests.browser"]


@pytest.fixture
async def rest_calls(settings: Settings) -> AsyncIterator[tuple[Settings, list[dict[str, str]]]]:
    """Twilio's Calls resource on loopback: records each call placed, answers 201."""
    placed: list[dict[str, str]] = []

    async def create(request: web.Request) -> web.Response:
        form = await request.post()
        placed.append({k: str(v) for k, v in form.items()})
        return web.json_response({"sid": f"CA{len(placed):032d}", "status": "queued"},
                                 status=201)

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Calls.json", create)
    async with loopback(app) as base:
        yield settings.with_overrides(twilio_api_base_url=base), placed


# The URL Twilio signs when the app sits behind a proxy (the app itself listens locally).
PUBLIC = "https://ivr.prefecture.example"
Client = TestClient[Any, Any]
MakeClient = Callable[[web.Application], Awaitable[Client]]


@pytest.fixture
async def client(aiohttp_client: MakeClient, settings: Settings, flow: Flow,
                 pool: asyncpg.Pool) -> Client:
    """The app behind a proxy: Twilio signs the public https URL; the app listens locally."""
    return await aiohttp_client(create_app(settings.with_overrides(public_url=PUBLIC),
                                           flow=flow, pool=pool))
