"""Queue policy as pure decisions, and every QueueResult of <Enqueue>'s action handled."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ivr import queue_policy
from ivr.app import create_app
from ivr.flow.model import Flow, QueuePolicy
from ivr.settings import Settings
from ivr.store import agents
from tests.conftest import OPEN, paris
from tests.helpers import HandClock, call_params, signed_post

MakeClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
MUSIC = QueuePolicy(waiting="music", announce_after_seconds=60, announce_every_seconds=60,
                    max_wait_seconds=300, overflow_to="reception")


def test_leave_past_the_maximum_wait_even_with_agents() -> None:
    """The maximum wait ends the wait whoever is online; nobody online ends it at once."""
    assert queue_policy.on_wait(MUSIC, 300.0, 3) == queue_policy.Leave("max_wait")
    assert queue_policy.on_wait(MUSIC, 5.0, 0) == queue_policy.Leave("no_agent")
    assert queue_policy.on_wait(MUSIC, 299.9, 1) == queue_policy.Stay(3)


def test_announcements_are_due_by_slot_and_only_with_music() -> None:
    """No announcement in the first minute or with ringback; then one slot per minute."""
    assert queue_policy.on_wait(MUSIC, 59.9, 1) == queue_policy.Stay(None)
    assert queue_policy.on_wait(MUSIC, 60.0, 1) == queue_policy.Stay(0)
    assert queue_policy.on_wait(MUSIC, 179.0, 1) == queue_policy.Stay(1)
    ringback = QueuePolicy(waiting="ringback", max_wait_seconds=300)
    assert queue_policy.on_wait(ringback, 200.0, 1) == queue_policy.Stay(None)


def test_announced_position_is_twilios_when_sent() -> None:
    """Twilio's QueuePosition wins over the database count; without it, the count (>= 1)."""
    assert queue_policy.announced_position(2.0, 5) == 2
    assert queue_policy.announced_position(None, 4) == 4
    assert queue_policy.announced_position(None, 0) == 1


def test_every_documented_queue_result_has_a_meaning() -> None:
    """Each QueueResult Twilio documents maps to what it is; an unknown one to overflow."""
    assert set(queue_policy.QUEUE_RESULTS) == {
        "bridged", "bridging-in-process", "hangup", "leave", "redirected", "queue-full",
        "error", "system-error"}
    assert queue_policy.queue_end("surprise") == "overflow"


def test_overflow_target_needs_someone_online_there() -> None:
    """Overflow goes to the policy's target only if an agent is online there."""
    assert queue_policy.overflow_target(MUSIC, 1) == "reception"
    assert queue_policy.overflow_target(MUSIC, 0) is None
    assert queue_policy.overflow_target(QueuePolicy(overflow_to=None), 3) is None


async def _queued(pool: asyncpg.Pool, sid: str) -> None:
    now = datetime.now(UTC)
    await pool.execute(
        """INSERT INTO calls (call_sid, arrived_at, state, service, requested_service,
                              queued_at, queue_seen_at)
           VALUES ($1, $2, 'queued', 'immigration', 'immigration', $2, $2)""", sid, now)


@pytest.mark.parametrize(("result", "state", "outcome", "verb"), [
    ("bridged", "queued", None, None),
    ("bridging-in-process", "queued", None, None),
    ("hangup", "ended", "abandoned", None),
    ("redirected", "queued", None, None),
    ("leave", "queued", None, "Enqueue"),
    ("queue-full", "queued", None, "Enqueue"),
    ("error", "queued", None, "Enqueue"),
    ("system-error", "queued", None, "Enqueue"),
])
async def test_queue_result_handled_for_what_it_is(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool,
        result: str, state: str, outcome: str | None, verb: str | None) -> None:
    """bridged/bridging/redirected change nothing here (the call goes on elsewhere); hangup
    is an abandon; leave, a full queue and errors move the caller to the overflow queue."""
    sid = "CA" + "c" * 32
    await _queued(pool, sid)
    reception = await agents.add(pool, "Rita", "+33477000005", ["reception"], datetime.now(UTC))
    await agents.set_status(pool, reception.id, "available", datetime.now(UTC))
    client = await aiohttp_client(create_app(settings, flow=flow, pool=pool))
    status, body = await signed_post(
        client, settings.public_url, "/twilio/queue/done?service=immigration",
        call_params(sid, QueueResult=result, QueueTime="12",
                    CallStatus="completed" if result == "hangup" else "in-progress"))
    assert status == 200
    root = ElementTree.fromstring(body)
    if verb is None:
        assert root.find("Enqueue") is None
    else:
        queue = root.find(verb)
        assert queue is not None
        assert queue.text == flow.queue_name("reception")
    row = await pool.fetchrow("SELECT state, outcome, service FROM calls WHERE call_sid = $1",
                              sid)
    assert row is not None
    assert (row["state"], row["outcome"]) == (state, outcome)
    assert row["service"] == ("reception" if verb else "immigration")


async def test_pickup_before_the_first_wait_url_counts_from_enqueue(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """The wait starts when the server answers <Enqueue>: an agent's leg that takes the caller
    8 s later, before any waitUrl came (and without a QueueTime), counts 8 s and ring 2."""
    clock = HandClock(paris(OPEN))
    client = await aiohttp_client(create_app(settings, flow=flow, pool=pool, clock=clock))
    sid = "CA" + "d" * 32
    _, body = await signed_post(client, settings.public_url, "/twilio/voice", call_params(sid))
    gather = ElementTree.fromstring(body).find("Gather")
    assert gather is not None
    path = gather.get("action", "").removeprefix(settings.public_url)
    _, body = await signed_post(client, settings.public_url, path, call_params(sid, Digits="2"))
    assert ElementTree.fromstring(body).find("Enqueue") is not None
    clock.at += timedelta(seconds=8)
    status, _ = await signed_post(client, settings.public_url, "/twilio/queue/pickup",
                                  call_params(sid, DequeingCallSid="CA" + "e" * 32))
    assert status == 200
    row = await pool.fetchrow("SELECT outcome, wait_seconds, rings FROM calls")
    assert row is not None
    assert (row["outcome"], row["wait_seconds"], row["rings"]) == ("answered", 8.0, 2)
