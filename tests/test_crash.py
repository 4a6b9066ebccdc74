"""Crashes with 30 calls in flight: `ivr serve`, its embedded or an external PostgreSQL killed.

Real processes on loopback: `ivr serve` as a subprocess, the simulator playing Twilio (its
clock sped up 20 times) and standing in for the REST API. After the crash, every
standardist is left `busy`; a manager resets them through the admin API and the next
caller is answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from ivr.clock import Wake
from ivr.db.embedded import EmbeddedPostgres
from ivr.flow.hours import closed_reason
from ivr.flow.loader import load_flow
from ivr.simulator.clock import RealClock
from ivr.simulator.rest import rest_app
from ivr.simulator.script import AgentScript, CallerScript, CallResult, Press
from ivr.simulator.twilio import FakeTwilio
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, ROOT

ADMIN = "crash-test-admin-token"
OFFER_TIMEOUT = 10
AGENTS = 6
CALLERS = 30


class FastClock(RealClock):
    """Wall-clock time, but the simulated people's pauses pass 20 times faster."""

    async def sleep(self, seconds: float, wake: Wake | None = None) -> bool:
        """Sleep a twentieth of the time."""
        return await super().sleep(seconds / 20, wake)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _always_open_flow(folder: Path) -> Path:
    """The Loire flow, open every day at every hour, so the test runs whenever it is run."""
    text = (ROOT / "flows" / "loire.yaml").read_text()
    days = "".join(f'  {d}: ["00:00-23:59"]\n' for d in (
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
    text = re.sub(r"opening_hours:\n(  \w+: .*\n)+", "opening_hours:\n" + days, text)
    path = folder / "always-open.yaml"
    # These tests are about crash recovery, not hours: on a French public holiday the flow
    # takes the calendar of a country where today is a working day (no two of these share
    # a new year's day), so the test runs, never skips, whatever the date.
    for country in ("FR", "IL", "ET", "SA"):
        path.write_text(text.replace("holidays:\n  country: FR",
                                     f"holidays:\n  country: {country}"))
        if closed_reason(load_flow(path), datetime.now(UTC)) is None:
            return path
    raise AssertionError("no holiday calendar leaves today open")


class Server:
    """`ivr serve` as a subprocess, started and killed by the test."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.url = env["IVR_PUBLIC_URL"]

    async def start(self) -> None:
        """Start and wait until /readyz answers (bounded)."""
        with self.log.open("a") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ivr", "serve", env=self.env, stdout=out, stderr=out)
        await self.ready()

    async def ready(self, seconds: float = 60) -> None:
        """Poll /readyz until it says ready."""
        async with aiohttp.ClientSession() as session:
            for _ in range(int(seconds * 4)):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self.url + "/readyz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.25)
        raise AssertionError(f"server not ready: {self.log.read_text()[-2000:]}")

    async def kill(self) -> None:
        """SIGKILL: no cleanup of any kind."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        """SIGTERM, as a service manager stops it."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()


@contextlib.asynccontextmanager
async def _rest_stand_in(session: aiohttp.ClientSession,
                         public_url: str) -> AsyncIterator[tuple[FakeTwilio, str]]:
    twilio = FakeTwilio(base_url=public_url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID,
                        clock=FastClock(), session=session)
    runner = web.AppRunner(rest_app(twilio), access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield twilio, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _admin(session: aiohttp.ClientSession, server: Server, method: str, path: str,
                 body: dict[str, Any] | None = None) -> tuple[int, Any]:
    async with session.request(method, server.url + path, json=body,
                               headers={"Authorization": f"Bearer {ADMIN}"}) as response:
        return response.status, await response.json(content_type=None)


async def _until(check: Any, seconds: float, what: str) -> None:
    """Poll an async condition (bounded in time)."""
    for _ in range(int(seconds * 4)):
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("crash", ["server", "postgres", "external"])
async def test_crash_with_calls_in_flight_then_reset_answers_the_next_caller(
        crash: str, db_url: str) -> None:
    """Kill `ivr serve`, its embedded PostgreSQL or an external PostgreSQL with 30 calls in
    flight; resetting the stuck standardists through the admin API is enough for the next
    caller to be answered within the offer timeout."""
    port = _free_port()
    public = f"http://127.0.0.1:{port}"
    # Not pytest's tmp_path: parallel runs rotate those folders away under the server.
    with tempfile.TemporaryDirectory(prefix="ivr-crash-") as folder:
        await _run(crash, db_url, Path(folder), port, public)


async def _run(crash: str, db_url: str, folder: Path, port: int, public: str) -> None:
    """Serve, crash, recover, then stop cleanly."""
    async with aiohttp.ClientSession() as session, _rest_stand_in(session, public) as (
            twilio, rest_url):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "IVR_HOST": "127.0.0.1",
               "IVR_PORT": str(port), "IVR_PUBLIC_URL": public, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
               "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_API_BASE_URL": rest_url,
               "IVR_ADMIN_TOKEN": ADMIN, "IVR_HASH_KEY": "h" * 32,
               "IVR_AGENT_CALLER_ID": "+33477000000",
               "IVR_FLOW": str(_always_open_flow(folder)), "IVR_DATA_DIR": str(folder),
               "IVR_OFFER_TIMEOUT": str(OFFER_TIMEOUT), "IVR_WRAP_UP_SECONDS": "0"}
        external = EmbeddedPostgres(folder / "external") if crash == "external" else None
        if crash == "server":
            env["DATABASE_URL"] = db_url
        if external is not None:  # another server, restarted by its own supervisor
            env["DATABASE_URL"] = await asyncio.to_thread(external.start)
        server = Server(env, folder / "serve.log")
        await server.start()
        try:
            await _crash_and_recover(crash, server, session, twilio, folder, external)
        finally:
            await server.stop()
            if external is not None:
                await asyncio.to_thread(external.stop)
            for leg in twilio.agent_legs:  # offers made to the callers the crash left queued
                leg.cancel()
            await asyncio.gather(*twilio.agent_legs, return_exceptions=True)
    if crash == "postgres":
        pid_file = folder / "pgdata" / "postmaster.pid"
        assert not pid_file.exists(), "a clean stop leaves the embedded PostgreSQL stopped"


async def _crash_and_recover(crash: str, server: Server, session: aiohttp.ClientSession,
                             twilio: FakeTwilio, folder: Path,
                             external: EmbeddedPostgres | None) -> None:
    """Agents and 30 callers, the crash, the manager's reset, the next caller."""
    ids = []
    for i in range(AGENTS):
        contact = f"+3347700001{i}"
        status, made = await _admin(session, server, "POST", "/admin/agents", {
            "name": f"Standardiste {i}", "contact": contact, "services": ["immigration"]})
        assert status == 201, made
        ids.append(made["id"])
        twilio.agent_scripts[contact] = AgentScript(answer_after=1, talk_seconds=36_000)
        assert (await _admin(session, server, "POST", f"/admin/agents/{made['id']}/status",
                             {"status": "available"}))[0] == 200
    callers = [asyncio.create_task(twilio.call(
        CallerScript(inputs=(Press("2"),), talk_seconds=36_000), after=i * 2.0))
        for i in range(CALLERS)]
    db = await asyncpg.connect(await _database_url(server, folder))
    try:
        async def in_flight() -> bool:
            talking = await db.fetchval("SELECT count(*) FROM offers WHERE state = 'answered'")
            waiting = await db.fetchval("SELECT count(*) FROM calls WHERE state = 'queued'")
            return bool(talking == AGENTS and waiting >= CALLERS - AGENTS - 4)

        await _until(in_flight, 90, "6 conversations and the other callers queued")
    finally:
        await db.close()
    if crash == "server":
        await server.kill()
    else:
        pgdata = external.pgdata if external is not None else folder / "pgdata"
        os.kill(int((pgdata / "postmaster.pid").read_text().splitlines()[0]), signal.SIGKILL)
    for task in [*callers, *twilio.agent_legs]:
        task.cancel()
    await asyncio.gather(*callers, *twilio.agent_legs, return_exceptions=True)
    twilio.queues.clear()
    twilio.agent_legs.clear()
    if crash == "server":
        await server.start()
    elif external is not None:
        assert await asyncio.to_thread(external.restart_if_dead)
        await server.ready()  # the pool reconnects by itself
    else:  # the server's watchdog starts its PostgreSQL again
        async def restarted() -> bool:
            return "embedded PostgreSQL: restarted" in (folder / "serve.log").read_text()

        await _until(restarted, 30, "the embedded PostgreSQL to be restarted")
        await server.ready()
    status, listed = await _admin(session, server, "GET", "/admin/agents")
    assert status == 200
    assert [a["status"] for a in listed] == ["busy"] * AGENTS  # stuck, as the issue found
    for agent_id in ids:
        status, body = await _admin(session, server, "POST", f"/admin/agents/{agent_id}/status",
                                    {"status": "available"})
        assert status == 200, body
    result: CallResult = await twilio.call(CallerScript(inputs=(Press("2"),), talk_seconds=5,
                                                        hangup_after=OFFER_TIMEOUT * 3))
    assert result.answered_by is not None, result.transcript.lines
    assert result.queue_wait is not None
    assert result.queue_wait < OFFER_TIMEOUT, result.transcript.lines


async def _database_url(server: Server, folder: Path) -> str:
    if "DATABASE_URL" in server.env:
        return server.env["DATABASE_URL"]
    return f"postgresql://postgres@/postgres?host={folder / 'pgdata'}"
