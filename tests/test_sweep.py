"""Nothing stays stuck: lost final callbacks and callers gone without a word, on real
PostgreSQL, with the dispatcher on the wall clock and the app's time moved by hand."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import asyncpg
from aiohttp import web

from ivr import acd
from ivr.clock import WallTimer
from ivr.dialer import Dialer
from ivr.dispatch import Dispatcher
from ivr.metrics import Metrics
from ivr.settings import Settings
from ivr.store import agents, offers
from ivr.sweep import ORPHAN_AFTER, SWEEP_EVERY, sweep
from tests.helpers import HandClock, until
from tests.loopback import loopback

START = datetime(2026, 11, 25, 9, tzinfo=UTC)


async def _queued(pool: asyncpg.Pool, sid: str, at: datetime, seen: datetime) -> None:
    await pool.execute(
        """INSERT INTO calls (call_sid, arrived_at, state, service, requested_service,
                              queued_at, queue_seen_at)
           VALUES ($1, $2, 'queued', 'immigration', 'immigration', $2, $3)""", sid, at, seen)


async def _agent(pool: asyncpg.Pool, name: str, contact: str) -> int:
    agent = await agents.add(pool, name, contact, ["immigration"], START - timedelta(hours=1))
    await agents.set_status(pool, agent.id, "available", START - timedelta(hours=1))
    return agent.id


def _deps(pool: asyncpg.Pool, settings: Settings, clock: HandClock) -> acd.Offering:
    return acd.Offering(pool, Dialer(settings), settings, clock, Metrics())


async def test_caller_gone_without_callback_is_never_offered(
        pool: asyncpg.Pool, rest_calls: tuple[Settings, list[dict[str, str]]]) -> None:
    """A queued caller whose waitUrl stopped 4 min ago (final callbacks lost) gets no offer:
    no REST call at all, and the sweep counts them abandoned with the wait last seen."""
    settings, placed = rest_calls
    clock = HandClock(START)
    await _queued(pool, "CAghost", START - timedelta(minutes=5), START - timedelta(minutes=4))
    agent_id = await _agent(pool, "Claire", "+33477000001")
    deps = _deps(pool, settings, clock)
    dispatcher = Dispatcher(deps, WallTimer(), 0.05)
    await dispatcher.start()
    try:
        await asyncio.sleep(0.5)
        for _ in range(5):
            dispatcher.kick()
            await asyncio.sleep(0.05)
    finally:
        await dispatcher.stop()
        await deps.dialer.close()
    assert placed == []
    row = await pool.fetchrow("SELECT state, outcome, wait_seconds FROM calls")
    assert row is not None
    assert (row["state"], row["outcome"], row["wait_seconds"]) == ("ended", "abandoned", 60.0)
    assert deps.metrics.calls.labels("immigration", "abandoned")._value.get() == 1
    listed = await agents.list_all(pool, clock.now())
    assert [(a.id, a.status) for a in listed] == [(agent_id, "available")]


async def test_lost_no_answer_callback_expires_the_offer(
        pool: asyncpg.Pool, rest_calls: tuple[Settings, list[dict[str, str]]]) -> None:
    """An offer rung but never ended by Twilio's callback expires after the offer timeout
    plus its grace: the agent is no longer busy, and the caller is offered to the next one."""
    settings, placed = rest_calls
    clock = HandClock(START)
    await _queued(pool, "CAwaiting", START, START)
    await _agent(pool, "Ali", "+33477000001")
    await _agent(pool, "Béa", "+33477000002")
    deps = _deps(pool, settings, clock)
    dispatcher = Dispatcher(deps, WallTimer(), 0.05)
    await dispatcher.start()
    try:
        await until(placed, 1, 5.0)
        ali = placed[0]["To"]
        # Twilio never calls back; the caller keeps waiting (their waitUrl keeps coming).
        clock.at = START + deps.stale_after + timedelta(seconds=1)
        await pool.execute("UPDATE calls SET queue_seen_at = $1", clock.at)
        dispatcher.kick()
        await until(placed, 2, 5.0)
    finally:
        await dispatcher.stop()
        await deps.dialer.close()
    assert [p["To"] for p in placed] == [ali, "+33477000002" if ali.endswith("1")
                                         else "+33477000001"]
    first = await pool.fetchrow("SELECT state, result FROM offers ORDER BY id LIMIT 1")
    assert first is not None
    assert (first["state"], first["result"]) == ("expired", "no-callback")
    statuses = sorted(a.status for a in await agents.list_all(pool, clock.now()))
    assert statuses == ["busy", "offline"]  # the one rung now, and the one who missed it


async def test_lost_completed_callback_frees_the_agent(
        pool: asyncpg.Pool, rest_calls: tuple[Settings, list[dict[str, str]]]) -> None:
    """A conversation ended (the caller's call is over) but the agent leg's `completed`
    callback never came: a minute later the sweep ends the offer and the agent is free."""
    settings, _ = rest_calls
    clock = HandClock(START)
    await _queued(pool, "CAtalked", START, START)
    agent_id = await _agent(pool, "Claire", "+33477000001")
    deps = _deps(pool, settings, clock)
    try:
        claim = await offers.claim(pool, START, deps.stale_after, deps.gone_after)
        assert claim is not None
        await offers.placed(pool, claim.offer_id, "CA" + "b" * 32)
        assert await offers.answered(pool, claim.offer_id, START + timedelta(seconds=5))
        await offers.picked(pool, claim.offer_id, "CAtalked")
        await pool.execute("""UPDATE calls SET state = 'ended', outcome = 'answered',
                              ended_at = $1 WHERE call_sid = 'CAtalked'""",
                           START + timedelta(seconds=90))
        clock.at = START + timedelta(seconds=90) + ORPHAN_AFTER / 2
        assert (await sweep(deps)).orphaned == 0  # the callback may still come
        clock.at = START + timedelta(seconds=91) + ORPHAN_AFTER
        assert (await sweep(deps)).orphaned == 1
    finally:
        await deps.dialer.close()
    offer = await pool.fetchrow("SELECT state, result FROM offers")
    assert offer is not None
    assert (offer["state"], offer["result"]) == ("completed", "no-callback")
    listed = await agents.list_all(pool, clock.now())
    assert [(a.id, a.status) for a in listed] == [(agent_id, "available")]


async def test_offer_never_placed_gives_the_agent_back(
        pool: asyncpg.Pool, rest_calls: tuple[Settings, list[dict[str, str]]]) -> None:
    """A claim whose REST call was never made (the server died in between) expires and the
    agent goes back to available, not offline: it was not their miss."""
    settings, _ = rest_calls
    await _queued(pool, "CAwaiting", START, START)
    agent_id = await _agent(pool, "Claire", "+33477000001")
    clock = HandClock(START)
    deps = _deps(pool, settings, clock)
    try:
        assert await offers.claim(pool, START, deps.stale_after, deps.gone_after) is not None
        clock.at = START + deps.stale_after + SWEEP_EVERY
        await pool.execute("UPDATE calls SET queue_seen_at = $1", clock.at)
        assert (await sweep(deps)).expired == 1
    finally:
        await deps.dialer.close()
    listed = await agents.list_all(pool, clock.now())
    assert [(a.id, a.status) for a in listed] == [(agent_id, "available")]


async def test_after_a_restart_offers_are_reconciled_from_twilio(
        pool: asyncpg.Pool, settings: Settings) -> None:
    """After kill -9 the agent legs' final callbacks were lost: at start-up the dispatcher
    asks Twilio's call resource; ended calls free their agents, a live one is left alone."""
    statuses = {"CA" + "1" * 32: "completed", "CA" + "2" * 32: "in-progress",
                "CA" + "3" * 32: "no-answer"}

    async def fetch(request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        return web.json_response({"sid": sid, "status": statuses[sid]})

    app = web.Application()
    app.router.add_get("/2010-04-01/Accounts/{account}/Calls/{sid}.json", fetch)
    stand_in = contextlib.AsyncExitStack()
    twilio = settings.with_overrides(
        twilio_api_base_url=await stand_in.enter_async_context(loopback(app)))
    ids = {}
    for i, sid in enumerate(statuses, start=1):
        await _queued(pool, f"CAcaller{i}", START, START)
        ids[sid] = await _agent(pool, f"Agent {i}", f"+3347700000{i}")
        claim = await offers.claim(pool, START, timedelta(hours=1), timedelta(hours=1))
        assert claim is not None
        await offers.placed(pool, claim.offer_id, sid)
        if i == 2:
            assert await offers.answered(pool, claim.offer_id, START)
    clock = HandClock(START + timedelta(minutes=1))
    deps = _deps(pool, twilio, clock)
    dispatcher = Dispatcher(deps, WallTimer(), 0.05)
    try:
        await dispatcher.start()
        for _ in range(100):
            if dispatcher.passes >= 1:
                break
            await asyncio.sleep(0.02)
        await dispatcher.stop()
    finally:
        await deps.dialer.close()
        await stand_in.aclose()
    listed = {a.id: a.status for a in await agents.list_all(pool, clock.now())}
    assert listed[ids["CA" + "1" * 32]] == "available"
    assert listed[ids["CA" + "2" * 32]] == "busy"
    assert listed[ids["CA" + "3" * 32]] == "offline"
    # (The freed agent is then offered the next caller: that REST call fails here.)
    results = await pool.fetch("SELECT agent_call_sid, result FROM offers "
                               "WHERE agent_call_sid IS NOT NULL ORDER BY id")
    assert [r["result"] for r in results] == ["reconciled:completed", None,
                                              "reconciled:no-answer"]


async def test_a_routed_caller_whose_first_wait_url_never_came_is_not_offered(
        pool: asyncpg.Pool) -> None:
    """Twilio asks for the waitUrl as soon as a caller joins: routed 20 s ago with none, the
    caller is not there and no standardist is rung; routed 5 s ago, they are offered."""
    await _agent(pool, "Claire", "+33477000001")
    await pool.execute(
        """INSERT INTO calls (call_sid, arrived_at, state, service, requested_service,
                              queued_at)
           VALUES ('CAghost', $1, 'queued', 'immigration', 'immigration', $1),
                  ('CAfresh', $2, 'queued', 'immigration', 'immigration', $2)""",
        START - timedelta(seconds=20), START - timedelta(seconds=5))
    claim = await offers.claim(pool, START, timedelta(seconds=35))
    assert claim is not None
    assert claim.for_call_sid == "CAfresh"
