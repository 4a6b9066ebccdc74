"""Webhooks with the database in trouble (issue 10): a pool held by slow queries.

In process, on a real PostgreSQL: the pool's every connection is taken by `pg_sleep`, the
call's webhooks still answer within the deadline with the TwiML of their route, and once
the queries end the journal is replayed so the call's row, events and counters are those
of the same call made with the pool free. (ivr serve with PostgreSQL frozen, killed, and
itself killed: tests/test_faults_serve.py.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from ivr import keys
from ivr.app import create_app
from ivr.db.pool import create_pool
from ivr.degraded import OUTAGE
from ivr.flow.model import Flow
from ivr.journal import Journal
from ivr.settings import Settings
from ivr.simulator.twiml_check import Verb, parse
from ivr.store import agents
from tests.conftest import OPEN, paris
from tests.helpers import call_params, signature

Client = TestClient[Any, Any]
MakeClient = Callable[[web.Application], Awaitable[Client]]
PUBLIC = "https://ivr.prefecture.example"
DEADLINE = 1.5
COUNTERS = ("ivr_calls_total", "ivr_menu_choices_total", "ivr_queue_wait_seconds_count",
            "ivr_abandoned_wait_seconds_count", "ivr_abandoned_wait_seconds_sum")


class ScriptedClock:
    """The time each webhook arrives at, set by the test (the same in both runs)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        """The time set last."""
        return self.at


async def _post(client: Client, path: str, params: dict[str, str]) -> tuple[float, list[Verb]]:
    """A signed webhook: seconds to answer and its verbs (valid TwiML, else TwimlError)."""
    headers = {"X-Twilio-Signature": signature(PUBLIC + path, params)}
    started = time.perf_counter()
    response = await client.post(path, data=params, headers=headers)
    body = await response.read()
    took = time.perf_counter() - started
    return took, parse(body, response.headers.get("Content-Type", ""), response.status)


def _all(verbs: list[Verb] | tuple[Verb, ...]) -> list[Verb]:
    found: list[Verb] = []
    for verb in verbs:
        found += [verb, *_all(verb.children)]
    return found


async def _call(client: Client, clock: ScriptedClock, sid: str) -> list[tuple[float, str]]:
    """Arrival, key 2 (immigration), two waitUrl rounds, the caller hangs up 40 s in."""
    start = paris(OPEN)
    answers: list[tuple[float, str]] = []
    clock.at = start
    took, verbs = await _post(client, "/twilio/voice", call_params(sid))
    gather = next(v for v in _all(verbs) if v.name == "Gather")
    answers.append((took, "voice"))
    clock.at = start + timedelta(seconds=12)
    action = urlsplit(gather.attrs["action"])
    took, verbs = await _post(client, f"{action.path}?{action.query}",
                              call_params(sid, Digits="2"))
    enqueue = next(v for v in _all(verbs) if v.name == "Enqueue")
    assert enqueue.attrs.get("waitUrl"), "routed to the queue"
    answers.append((took, "gather"))
    wait = urlsplit(enqueue.attrs["waitUrl"])
    for second in (13, 25):
        clock.at = start + timedelta(seconds=second)
        took, verbs = await _post(client, f"{wait.path}?{wait.query}",
                                  call_params(sid, QueueTime=str(second - 13)))
        assert {v.name for v in _all(verbs)} & {"Play", "Say"}, "the caller keeps waiting"
        answers.append((took, "wait"))
    clock.at = start + timedelta(seconds=40)
    took, verbs = await _post(client, "/twilio/status",
                              call_params(sid, CallStatus="completed", CallDuration="40"))
    answers.append((took, "status"))
    return answers


async def _row(pool: asyncpg.Pool, sid: str) -> dict[str, Any]:
    row = await pool.fetchrow(
        """SELECT outcome, state, service, requested_service, arrived_at, queued_at, ended_at,
                  wait_seconds, rings, target_met, caller_hash FROM calls WHERE call_sid = $1""",
        sid)
    assert row is not None, "the call is in the database"
    events = await pool.fetch(
        "SELECT event_key, kind, at, detail FROM call_events WHERE call_sid = $1 ORDER BY id",
        sid)
    return {**dict(row), "events": [dict(e) for e in events]}


def _counters(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]],
                                                      float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in registry.collect() for s in family.samples if s.name in COUNTERS}


async def test_pool_held_by_slow_queries_still_answers_and_replays_the_same_call(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, db_url: str,
        tmp_path: Any) -> None:
    """Every connection of the pool held by `pg_sleep`: each webhook of a call answers its
    route's TwiML (menu, queue, ringback, empty; a notice to a standardist answering an
    offer) within the 2 s Twilio needs, /readyz says
    not ready while /healthz says alive, and once the
    queries end the journal gives the call the row, events and counters of the same call
    made with a free pool."""
    pool = await create_pool(db_url, max_size=2)
    try:
        # A standardist on another call all along: the queue stays open, nobody is offered.
        agent = await agents.add(pool, "Claire", "+33600000001", ["immigration"], paris(OPEN))
        await pool.execute("UPDATE agents SET status = 'busy' WHERE id = $1", agent.id)
        clock = ScriptedClock(paris(OPEN))
        free = create_app(settings.with_overrides(public_url=PUBLIC,
                                                  data_dir=tmp_path / "free"),
                          clock=clock, flow=flow, pool=pool)
        await _call(await aiohttp_client(free), clock, "CA" + "1" * 32)

        held = create_app(settings.with_overrides(public_url=PUBLIC, data_dir=tmp_path / "held",
                                                  db_deadline_seconds=DEADLINE),
                          clock=clock, flow=flow, pool=pool)
        client = await aiohttp_client(held)
        sleepers = [asyncio.create_task(pool.fetchval("SELECT pg_sleep(8)")) for _ in range(2)]
        await asyncio.sleep(0.3)
        answers = await _call(client, clock, "CA" + "2" * 32)
        took, verbs = await _post(client, "/twilio/agent/answer?offer=1",
                                  call_params("CA" + "3" * 32))
        assert took < 2.0
        spoken = " ".join(v.text for v in _all(verbs))
        assert "Incident technique" in spoken, "the standardist hears a notice of their own"
        assert "difficulté" not in spoken, "not the callers' apology"
        assert (await client.get("/readyz")).status == 503, "not ready: no connection free"
        assert (await client.get("/healthz")).status == 200, "but alive"
        assert [route for _, route in answers] == ["voice", "gather", "wait", "wait", "status"]
        assert max(took for took, _ in answers) < 2.0, answers
        journal = held[OUTAGE].journal
        assert journal.depth == 5, "every webhook journaled, in order"
        assert held[keys.METRICS].registry.get_sample_value(
            "ivr_journal_depth") == 5
        await asyncio.gather(*sleepers)
        for _ in range(60):
            if not journal.depth:
                break
            await asyncio.sleep(0.25)
        assert journal.depth == 0, "replayed once the pool is free"
        registry = held[keys.METRICS].registry
        assert registry.get_sample_value("ivr_journal_replayed_total", {"result": "ok"}) == 5
        assert registry.get_sample_value("ivr_journal_dropped_total") == 0
        assert registry.get_sample_value("ivr_webhook_degraded_total", {"route": "wait"}) == 2

        with_fault = await _row(pool, "CA" + "2" * 32)
        without = await _row(pool, "CA" + "1" * 32)
        assert with_fault == without
        assert with_fault["outcome"] == "abandoned"
        assert _counters(registry) == _counters(free[keys.METRICS].registry)
    finally:
        await pool.close()


def test_journal_is_bounded_counted_and_survives_a_crash(tmp_path: Any) -> None:
    """The journal refuses (and counts) entries beyond its bound, and a new process reading
    the same folder (after kill -9) finds the pending entries in order, past those replayed;
    a line torn by a crash in mid-write is skipped, never replayed half."""
    registry = CollectorRegistry()
    journal = Journal(tmp_path, max_entries=3, registry=registry)
    assert registry.get_sample_value("ivr_journal_depth") == 0
    assert registry.get_sample_value("ivr_journal_dropped_total") == 0
    for n in range(4):
        journal.append({"n": n})
    assert journal.depth == 3
    assert registry.get_sample_value("ivr_journal_dropped_total") == 1
    journal.done_one(True)
    with journal.path.open("a") as out:  # a crash in the middle of the next write
        out.write('{"n": 9')

    again = Journal(tmp_path, max_entries=4, registry=CollectorRegistry())
    assert again.append({"n": 3})
    assert again.pending() == [{"n": 1}, {"n": 2}, {}, {"n": 3}]
    for ok in (True, True, False, True):
        again.done_one(ok)
    assert again.depth == 0
    assert not again.path.exists(), "emptied once everything is replayed"
