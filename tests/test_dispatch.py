"""The dispatcher: offers made by a task of their own, woken by events, a NOTIFY or its tick."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from ivr import acd, keys
from ivr.app import create_app
from ivr.clock import SystemClock, WallTimer
from ivr.dialer import Dialer
from ivr.dispatch import CHANNEL, Dispatcher
from ivr.fallback import AGENT_SORRY
from ivr.flow.model import Flow
from ivr.metrics import Metrics
from ivr.settings import Settings
from ivr.store import agents
from tests.helpers import call_params, signed_post, until

MakeClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


async def _queued_caller(pool: asyncpg.Pool, sid: str) -> None:
    now = datetime.now(UTC)
    await pool.execute(
        """INSERT INTO calls (call_sid, arrived_at, state, service, requested_service,
                              queued_at) VALUES ($1, $2, 'queued', 'immigration',
                              'immigration', $2)""", sid, now)


def _dispatcher(pool: asyncpg.Pool, settings: Settings, tick: float | None) -> Dispatcher:
    deps = acd.Offering(pool, Dialer(settings), settings, SystemClock(), Metrics())
    return Dispatcher(deps, WallTimer(), tick)


async def test_tick_offers_a_change_nobody_announced(
        pool: asyncpg.Pool, rest_calls: tuple[Settings, list[dict[str, str]]]) -> None:
    """An agent made available straight in the database (no wake-up) is offered within the
    tick; the REST call carries the agent leg's own FallbackUrl and the configured caller id."""
    settings, placed = rest_calls
    dispatcher = _dispatcher(pool, settings, tick=0.1)
    await dispatcher.start()
    try:
        await _queued_caller(pool, "CAwaiting")
        agent = await agents.add(pool, "Claire", "+33477000001", ["immigration"],
                                 datetime.now(UTC))
        await asyncio.sleep(0.3)
        assert placed == []  # offline: nothing to offer
        await agents.set_status(pool, agent.id, "available", datetime.now(UTC))
        await until(placed, 1, 5.0)
    finally:
        await dispatcher.stop()
        await dispatcher.deps.dialer.close()
    assert len(placed) == 1
    assert placed[0]["To"] == "+33477000001"
    assert placed[0]["From"] == settings.agent_caller_id
    assert "/twilio/agent/fallback?offer=" in placed[0]["FallbackUrl"]
    assert "/twilio/agent/answer?offer=" in placed[0]["Url"]


async def test_notify_from_another_instance_wakes_the_dispatcher(
        pool: asyncpg.Pool, rest_calls: tuple[Settings, list[dict[str, str]]]) -> None:
    """Without a tick, only a NOTIFY (another instance's wake-up) makes this one offer."""
    settings, placed = rest_calls
    dispatcher = _dispatcher(pool, settings, tick=None)
    await dispatcher.start()
    try:
        await until([], 1, 0.2)
        await _queued_caller(pool, "CAwaiting")
        agent = await agents.add(pool, "Claire", "+33477000001", ["immigration"],
                                 datetime.now(UTC))
        await agents.set_status(pool, agent.id, "available", datetime.now(UTC))
        await asyncio.sleep(0.3)
        assert placed == []  # nobody said anything: no offer
        await pool.execute("SELECT pg_notify($1, 'another-instance')", CHANNEL)
        await until(placed, 1, 5.0)
    finally:
        await dispatcher.stop()
        await dispatcher.deps.dialer.close()
    assert [p["To"] for p in placed] == ["+33477000001"]


async def test_wakes_coalesce_and_none_is_missed(
        pool: asyncpg.Pool, rest_calls: tuple[Settings, list[dict[str, str]]]) -> None:
    """Many kicks at once run few passes, and a kick during a pass gets a pass after it."""
    settings, placed = rest_calls
    dispatcher = _dispatcher(pool, settings, tick=None)
    await dispatcher.start()
    try:
        await asyncio.sleep(0.2)
        before = dispatcher.passes
        for _ in range(50):
            dispatcher.kick()
        await asyncio.sleep(0.3)
        assert 1 <= dispatcher.passes - before <= 2
        for i in range(3):
            await _queued_caller(pool, f"CAwaiting{i}")
            agent = await agents.add(pool, f"A{i}", f"+3347700000{i}", ["immigration"],
                                     datetime.now(UTC))
            await agents.set_status(pool, agent.id, "available", datetime.now(UTC))
            dispatcher.kick()
        await until(placed, 3, 5.0)
    finally:
        await dispatcher.stop()
        await dispatcher.deps.dialer.close()
    assert sorted(p["To"] for p in placed) == ["+33477000000", "+33477000001", "+33477000002"]


async def test_voicemail_is_a_missed_offer_and_the_next_agent_is_rung(
        aiohttp_client: MakeClient, flow: Flow, pool: asyncpg.Pool,
        rest_calls: tuple[Settings, list[dict[str, str]]]) -> None:
    """The agent leg must press a key: no key (a voicemail) ends the offer as `no_key`, takes
    the agent out of rotation, rings the next agent, and the caller is not answered."""
    settings, placed = rest_calls
    await _queued_caller(pool, "CAwaiting")
    ali = await agents.add(pool, "Ali", "+33477000001", ["immigration"], datetime.now(UTC))
    await agents.set_status(pool, ali.id, "available", datetime.now(UTC))
    await asyncio.sleep(0.01)  # Ali has been idle longer: he is offered first
    bea = await agents.add(pool, "Béa", "+33477000002", ["immigration"], datetime.now(UTC))
    await agents.set_status(pool, bea.id, "available", datetime.now(UTC))
    app = create_app(settings, flow=flow, pool=pool)
    client = await aiohttp_client(app)
    await until(placed, 1, 5.0)
    assert [p["To"] for p in placed] == ["+33477000001"]
    answer_path = placed[0]["Url"].removeprefix(settings.public_url)
    status, body = await signed_post(client, settings.public_url, answer_path,
                                     call_params("CA" + "a" * 32, Direction="outbound-api"))
    assert status == 200
    gather = ElementTree.fromstring(body).find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1"
    assert "Appuyez sur une touche" in "".join(gather.itertext())
    redirect = ElementTree.fromstring(body).find("Redirect")
    assert redirect is not None
    assert redirect.text is not None
    status, body = await signed_post(client, settings.public_url,
                                     redirect.text.removeprefix(settings.public_url),
                                     call_params("CA" + "a" * 32, Direction="outbound-api"))
    assert status == 200
    assert ElementTree.fromstring(body).find("Hangup") is not None
    await until(placed, 2, 5.0)
    assert [p["To"] for p in placed] == ["+33477000001", "+33477000002"]
    offer = await pool.fetchrow("SELECT state, result FROM offers ORDER BY id LIMIT 1")
    assert offer is not None
    assert (offer["state"], offer["result"]) == ("failed", "no_key")
    statuses = {a.name: (a.status, a.note) for a in await agents.list_all(pool,
                                                                        datetime.now(UTC))}
    assert statuses["Ali"][0] == "offline"
    assert "aucune touche" in (statuses["Ali"][1] or "")
    assert await pool.fetchval("SELECT state FROM calls WHERE call_sid = 'CAwaiting'") == \
        "queued"
    assert app[keys.METRICS].offers.labels("immigration", "no_key")._value.get() == 1


async def test_key_bridges_to_the_caller(
        aiohttp_client: MakeClient, flow: Flow, pool: asyncpg.Pool,
        rest_calls: tuple[Settings, list[dict[str, str]]]) -> None:
    """A key pressed in the agent's <Gather> answers the offer and dials the service's queue."""
    settings, placed = rest_calls
    await _queued_caller(pool, "CAwaiting")
    ali = await agents.add(pool, "Ali", "+33477000001", ["immigration"], datetime.now(UTC))
    await agents.set_status(pool, ali.id, "available", datetime.now(UTC))
    client = await aiohttp_client(create_app(settings, flow=flow, pool=pool))
    await until(placed, 1, 5.0)
    _, body = await signed_post(client, settings.public_url,
                                placed[0]["Url"].removeprefix(settings.public_url),
                                call_params("CA" + "a" * 32, Direction="outbound-api"))
    gather = ElementTree.fromstring(body).find("Gather")
    assert gather is not None
    action = gather.get("action", "").removeprefix(settings.public_url)
    status, body = await signed_post(client, settings.public_url, action, call_params(
        "CA" + "a" * 32, Direction="outbound-api", Digits="1"))
    assert status == 200
    queue = ElementTree.fromstring(body).find("Dial/Queue")
    assert queue is not None
    assert queue.text == flow.queue_name("immigration")
    assert await pool.fetchval("SELECT state FROM offers") == "answered"


async def test_agent_fallback_never_gives_the_callers_apology(
        aiohttp_client: MakeClient, flow: Flow, pool: asyncpg.Pool,
        settings: Settings) -> None:
    """The agent leg's FallbackUrl hangs up with a word for the standardist: no dial to
    reception, no caller's apology, even with a reception number set."""
    with_reception = settings.with_overrides(reception_number="+33477481234")
    client = await aiohttp_client(create_app(with_reception, flow=flow, pool=pool))
    status, body = await signed_post(client, with_reception.public_url,
                                     "/twilio/agent/fallback?offer=1",
                                     call_params(Direction="outbound-api"))
    assert status == 200
    root = ElementTree.fromstring(body)
    assert root.find("Dial") is None
    assert root.find("Hangup") is not None
    assert AGENT_SORRY in "".join(root.itertext())
