"""The console's live state: today's figures in SQL, queue alerts, two instances, audit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from ivr.app import create_app
from ivr.console.live import today_bounds
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.clock import VirtualClock
from ivr.store import agents, audit, console_live
from tests.conftest import OPEN, paris
from tests.console_helpers import csrf_of, make_agent, sign_in

MakeClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


async def _call(pool: asyncpg.Pool, sid: str, service: str, arrived: datetime, *,
                outcome: str | None, wait: float | None = None, met: bool | None = None) -> None:
    """A call that reached the service's queue 10 s after it arrived."""
    queued = arrived + timedelta(seconds=10)
    state = {"answered": "answered", None: "queued"}.get(outcome, "ended")
    answered = queued + timedelta(seconds=wait or 0) if outcome == "answered" else None
    await pool.execute(
        """INSERT INTO calls (call_sid, arrived_at, state, requested_service, service,
                              queued_at, outcome, wait_seconds, target_met, answered_at)
           VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9)""",
        sid, arrived, state, service, queued, outcome, wait, met, answered)


async def test_today_figures_count_the_local_day_from_the_calls_table(
        pool: asyncpg.Pool) -> None:
    """Per service: calls, before the 5th ring, abandoned, unanswered, longest; today only."""
    now = paris("2026-11-25T10:00")
    start, end = today_bounds(now, "Europe/Paris")
    assert (start, end) == (paris("2026-11-25T00:00"), paris("2026-11-26T00:00"))
    await _call(pool, "CA1", "immigration", paris("2026-11-25T08:05"), outcome="answered",
                wait=12.0, met=True)
    await _call(pool, "CA2", "immigration", paris("2026-11-25T08:06"), outcome="answered",
                wait=25.0, met=False)
    await _call(pool, "CA3", "immigration", paris("2026-11-25T08:07"), outcome="abandoned",
                wait=31.0, met=False)
    await _call(pool, "CA4", "immigration", paris("2026-11-25T09:59"), outcome=None)
    await _call(pool, "CA5", "road_safety", paris("2026-11-25T00:00"), outcome="unanswered",
                wait=120.0, met=False)
    await _call(pool, "CA6", "immigration", paris("2026-11-24T23:59"), outcome="answered",
                wait=1.0, met=True)  # yesterday, Paris time
    figures = {f.service: f for f in await console_live.today_figures(pool, start, end)}
    immigration = figures["immigration"]
    assert (immigration.calls, immigration.ended, immigration.answered,
            immigration.before_target, immigration.abandoned, immigration.unanswered,
            immigration.waiting, immigration.longest_wait) == (4, 3, 2, 1, 1, 0, 1, 31.0)
    road = figures["road_safety"]
    assert (road.calls, road.unanswered, road.longest_wait) == (1, 1, 120.0)


def _app(settings: Settings, flow: Flow, pool: asyncpg.Pool,
         clock: VirtualClock) -> web.Application:
    return create_app(settings, clock=clock, flow=flow, pool=pool)


async def test_manager_page_shows_figures_and_time_in_status(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """The figures row of a service and each agent's time in their status, in French."""
    clock = VirtualClock(paris(OPEN))
    client = await aiohttp_client(_app(settings, flow, pool, clock))
    await make_agent(pool, "Marie", "+33477000002", ["reception"], clock.now(), role="manager")
    await _call(pool, "CA1", "immigration", paris("2026-11-25T09:00"), outcome="answered",
                wait=12.0, met=True)
    await _call(pool, "CA2", "immigration", paris("2026-11-25T09:01"), outcome="abandoned",
                wait=22.0, met=False)
    clock.advance(125)
    await sign_in(client, "Marie")
    html = await (await client.get("/console/manager")).text()
    row = html.split("Le bureau de l&#39;immigration</th>")[1].split("</tr>")[0]
    cells = [c.split("</td>")[0] for c in row.split("<td>")[1:]]
    # The answered call was not transferred (oriented 100 %); nobody answered the survey.
    assert cells == ["2", "0", "50 % (1)", "1", "0", "50 %", "22 s (5e sonnerie)", "100 %", "—"]
    assert "2 min 05 s" in html


async def test_a_caller_at_the_fourth_ring_is_flagged_in_text(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """Ring 3 is within the target; at ring 4 the queue says the next ring misses it."""
    clock = VirtualClock(paris(OPEN))
    client = await aiohttp_client(_app(settings, flow, pool, clock))
    await make_agent(pool, "Claire", "+33477000001", ["immigration"], clock.now())
    await sign_in(client, "Claire")
    await _call(pool, "CA1", "immigration", clock.now() - timedelta(seconds=24), outcome=None)
    html = await (await client.get("/console/agent")).text()
    assert "14 s (3e sonnerie)" in html
    assert "Alerte" not in html
    clock.advance(2)
    html = await (await client.get("/console/agent")).text()
    assert "16 s (4e sonnerie)" in html
    assert "Alerte : 4e sonnerie, la suivante dépasse l’objectif" in html


async def _next_event(stream: Any, name: str, wanted: str) -> str:
    """Read the event stream until an event `name` whose data contains `wanted`."""
    event = ""
    async with asyncio.timeout(15):
        while True:
            line: str = (await stream.content.readline()).decode()
            if line.startswith("event: "):
                event = line[7:].strip()
            elif line.startswith("data: ") and event == name and wanted in line:
                return line


async def test_two_instances_share_sessions_and_live_state(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, db_url: str) -> None:
    """Signed in on one instance, changed through another: the first one's stream shows it."""
    from ivr.db.pool import create_pool

    clock = VirtualClock(paris(OPEN))
    pool_a = await create_pool(db_url, max_size=3)
    pool_b = await create_pool(db_url, max_size=3)
    try:
        a = await aiohttp_client(_app(settings, flow, pool_a, clock))
        b = await aiohttp_client(_app(settings, flow, pool_b, clock))
        await make_agent(pool_a, "Claire", "+33477000001", ["immigration"], clock.now())
        await sign_in(a, "Claire")
        cookies = {k: v.value for k, v in a.session.cookie_jar.filter_cookies(
            a.make_url("/console")).items()}
        b.session.cookie_jar.update_cookies(cookies, b.make_url("/console"))
        stream = await a.get("/console/events?view=agent")
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        await _next_event(stream, "me", "Hors ligne")
        token = csrf_of(await (await b.get("/console/agent")).text())
        changed = await b.post("/console/agent/status", allow_redirects=False,
                               data={"status": "available", "csrf": token})
        assert changed.status == 303
        await _next_event(stream, "me", "Disponible")
        await _next_event(stream, "announce", "Votre statut : Disponible.")
        stream.close()
    finally:
        await pool_a.close()
        await pool_b.close()


async def test_manager_changes_an_agents_status_audited_under_their_name(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """The manager's form changes another agent; available is refused during a call."""
    clock = VirtualClock(paris(OPEN))
    client = await aiohttp_client(_app(settings, flow, pool, clock))
    claire = await make_agent(pool, "Claire", "+33477000001", ["immigration"], clock.now())
    marie = await make_agent(pool, "Marie", "+33477000002", ["reception"], clock.now(),
                             role="manager")
    await sign_in(client, "Marie")
    token = csrf_of(await (await client.get("/console/manager")).text())
    done = await client.post("/console/manager/agent-status", allow_redirects=False, data={
        "agent_id": str(claire), "status": "available", "csrf": token})
    assert done.headers["Location"] == "/console/manager?msg=status"
    entry = (await audit.recent(pool))[0]
    assert (entry.actor, entry.target, entry.detail["to"]) == (
        f"Marie (#{marie})", f"agent:{claire}", "available")
    await _call(pool, "CA1", "immigration", clock.now(), outcome=None)
    await pool.execute("""INSERT INTO offers (service, agent_id, for_call_sid, state, created_at)
                          VALUES ('immigration', $1, 'CA1', 'answered', $2)""", claire,
                       clock.now())
    await pool.execute("UPDATE agents SET status = 'busy' WHERE id = $1", claire)
    refused = await client.post("/console/manager/agent-status", allow_redirects=False, data={
        "agent_id": str(claire), "status": "available", "csrf": token})
    assert refused.headers["Location"] == "/console/manager?msg=on_call&err=1"
    page = await client.get(refused.headers["Location"])
    assert "Impossible de passer disponible pendant un appel." in await page.text()
    assert (await agents.list_all(pool, clock.now()))[0].status == "busy"
    unknown = await client.post("/console/manager/agent-status", allow_redirects=False, data={
        "agent_id": "abc", "status": "offline", "csrf": token})
    assert unknown.headers["Location"].endswith("msg=no_agent&err=1")
