"""The hot path: nothing blocks the event loop, one round trip per event, cheap access log."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import asyncpg
import pytest

from ivr import keys
from ivr.crisis_cache import CrisisCache
from ivr.flow.engine import Crisis
from ivr.flow.model import Flow
from ivr.logs import AccessLog, BatchedHandler
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.script import AgentScript, CallerScript, CallResult, Press
from ivr.store import agents, calls, crisis
from tests.conftest import OPEN, paris
from tests.helpers import call_params

# A callback that runs this long has blocked every other call in progress.
SLOW_CALLBACK_SECONDS = 0.1


@pytest.fixture
async def harness(settings: Settings, flow: Flow, db_url: str) -> AsyncIterator[Harness]:
    """The server on a Wednesday morning with two agents covering every service."""
    async with running(settings, flow, db_url, paris(OPEN)) as h:
        pool = h.app[keys.POOL]
        for i in range(2):
            agent = await agents.add(pool, f"Agent {i}", f"+3361000000{i}",
                                     list(flow.services), h.clock.now())
            await agents.set_status(pool, agent.id, "available", h.clock.now())
            h.twilio.agent_scripts[agent.contact] = AgentScript(answer_after=2.0,
                                                                talk_seconds=5.0)
        yield h


class _Slow(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        # The simulated Twilio shares the loop; its own steps are the test's, not the server's.
        if "took" in message and "seconds" in message and "ivr/simulator/" not in message:
            self.messages.append(message)


@pytest.fixture
def slow_callbacks() -> Iterator[_Slow]:
    """asyncio's debug mode on the running loop, reporting callbacks slower than the bound."""
    loop = asyncio.get_event_loop_policy().get_event_loop()
    handler = _Slow()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    was_debug, was_slow = loop.get_debug(), loop.slow_callback_duration
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK_SECONDS
    try:
        yield handler
    finally:
        loop.set_debug(was_debug)
        loop.slow_callback_duration = was_slow
        logger.removeHandler(handler)


async def test_no_callback_blocks_the_loop(harness: Harness, slow_callbacks: _Slow) -> None:
    """Complete calls, a hang-up in the menu and a scrape: no callback over 100 ms on the loop."""
    scripts = [CallerScript(inputs=(Press(key),), talk_seconds=5.0) for key in "1234"]
    scripts.append(CallerScript(inputs=(), hangup_after=3.0))

    async def calls_and_scrape() -> list[CallResult]:
        results = await asyncio.gather(*(harness.twilio.call(s) for s in scripts))
        await harness.twilio.settle()
        async with harness.twilio.session.get(harness.settings.public_url + "/metrics") as r:
            assert r.status == 200
        return list(results)

    # Warm up first: a module's first import or a first compile is a one-time cost.
    await calls_and_scrape()
    slow_callbacks.messages.clear()
    results = await calls_and_scrape()
    assert [r.queue_result for r in results[:4]] == ["bridged"] * 4
    assert slow_callbacks.messages == []


async def test_pickup_before_the_first_wait_url_counts(harness: Harness) -> None:
    """A pickup that overtakes the caller's first waitUrl is answered, its wait counted from
    the server's <Enqueue> answer (7 s later, as Twilio's QueueTime also says)."""
    twilio, sid = harness.twilio, "CA" + "7" * 32
    await twilio.post(twilio.url("/twilio/voice"), call_params(sid))
    await twilio.post(twilio.url("/twilio/gather?step=menu&failures=0&seq=0"),
                      call_params(sid, Digits="1"))
    harness.clock.advance(7)
    status, _ = await twilio.post(twilio.url("/twilio/queue/pickup?offer=999"), call_params(
        sid, QueueTime="7", DequeingCallSid="CA" + "8" * 32))
    assert status == 200
    row = await harness.app[keys.POOL].fetchrow(
        "SELECT outcome, wait_seconds, rings FROM calls WHERE call_sid = $1", sid)
    assert row is not None
    assert (row["outcome"], row["wait_seconds"], row["rings"]) == ("answered", 7.0, 2)
    # Its first waitUrl, arriving late, no longer moves the call back into the queue.
    await twilio.post(twilio.url("/twilio/queue/wait?service=crisis"), call_params(sid))
    assert await harness.app[keys.POOL].fetchval(
        "SELECT state FROM calls WHERE call_sid = $1", sid) == "answered"


async def test_event_creates_the_call_once(pool: asyncpg.Pool) -> None:
    """One statement records the call and its event; a repeat of the event is a no-op."""
    now = paris(OPEN)
    sid = "CA" + "5" * 32
    assert await calls.record_event(pool, sid, "begin", "menu", now, {"a": 1},
                                    caller_hash="h", called="+33477481234")
    assert not await calls.record_event(pool, sid, "begin", "menu", now, {"a": 2})
    row = await pool.fetchrow("SELECT caller_hash, called FROM calls WHERE call_sid = $1", sid)
    assert row is not None
    assert (row["caller_hash"], row["called"]) == ("h", "+33477481234")
    assert await pool.fetchval("SELECT count(*) FROM call_events WHERE call_sid = $1", sid) == 1


async def test_released_connection_is_rolled_back(pool: asyncpg.Pool) -> None:
    """Without asyncpg's reset query, a transaction left open is still rolled back on release."""
    async with pool.acquire() as conn:
        backend = conn.get_server_pid()
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("CREATE TEMP TABLE left_open (x int)")
    async with pool.acquire() as conn:
        assert conn.get_server_pid() == backend  # the same session, taken back from the pool
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT to_regclass('pg_temp.left_open')") is None


def test_log_lines_are_batched_and_warnings_flushed_at_once() -> None:
    """Info lines wait for the next flush; a warning writes the batch at once, in order."""
    stream = io.StringIO()
    handler = BatchedHandler(stream)
    logger = logging.getLogger("ivr.test.batched")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.setLevel(logging.INFO)
        logger.info("first")
        assert stream.getvalue() == ""
        logger.warning("second")
        assert stream.getvalue() == "first\nsecond\n"
        logger.info("third")
        handler.flush()
        assert stream.getvalue() == "first\nsecond\nthird\n"
    finally:
        logger.removeHandler(handler)


def test_access_log_skips_work_when_info_is_off() -> None:
    """The access logger formats nothing when INFO is off for it."""
    logger = logging.getLogger("ivr.test.access")
    logger.setLevel(logging.WARNING)
    assert not AccessLog(logger, "").enabled
    logger.setLevel(logging.INFO)
    assert AccessLog(logger, "").enabled


async def test_crisis_cache_follows_notifications(pool: asyncpg.Pool) -> None:
    """The announcement is read once, dropped on NOTIFY from crisis.switch, expired by time."""
    now = paris(OPEN)
    cache = CrisisCache(pool)
    await cache.start()
    try:
        assert await cache.current(now) is None
        # A write that does not notify is not seen: the copy is really kept.
        await pool.execute("""INSERT INTO crisis_state (id, message, active, changed_at,
                              changed_by) VALUES (1, 'silent', true, $1, 'test')""", now)
        assert await cache.current(now) is None
        await crisis.switch(pool, active=True, message="Inondations", now=now,
                            until=now + timedelta(hours=1), by="test")
        for _ in range(200):  # the notification crosses a socket: give it up to 2 s
            if await cache.current(now) is not None:
                break
            await asyncio.sleep(0.01)
        assert await cache.current(now) == Crisis("Inondations")
        assert await cache.current(now + timedelta(hours=2)) is None
    finally:
        await cache.stop()


async def test_crisis_cache_without_listener_reads_every_time(pool: asyncpg.Pool) -> None:
    """Once its listening connection is lost, the cache reads PostgreSQL at every call."""
    now = paris(OPEN)
    cache = CrisisCache(pool)
    await cache.start()
    try:
        assert await cache.current(now) is None
        listener = cache._conn
        assert listener is not None
        listener.terminate()
        await pool.execute("""INSERT INTO crisis_state (id, message, active, changed_at,
                              changed_by) VALUES (1, 'direct', true, $1, 'test')""", now)
        assert await cache.current(now) == Crisis("direct")
    finally:
        await cache.stop()
