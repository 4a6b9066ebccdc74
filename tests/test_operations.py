"""Operations: unsticking agents, counts that cannot be inflated, /metrics cheap and guarded,
and slow clients that cannot pin the server."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ivr import keys
from ivr.app import create_app
from ivr.flow.model import Flow
from ivr.settings import Settings, SettingsError, load_settings
from ivr.store import agents, offers
from ivr.timeouts import runner_options
from tests.helpers import HandClock, call_params, signed_post

AUTH = {"Authorization": "Bearer admin-token-for-tests"}
PUBLIC = "https://ivr.prefecture.example"
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
MakeClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


async def _stuck_agent(pool: asyncpg.Pool, sid: str = "CAwaiting") -> tuple[int, int]:
    """An agent left `busy` by a crash, with an answered offer nobody will ever end."""
    agent = await agents.add(pool, "Claire", "+33477000001", ["immigration"], NOW)
    await pool.execute(
        """INSERT INTO calls (call_sid, arrived_at, state, service, requested_service,
                              queued_at) VALUES ($1, $2, 'queued', 'immigration',
                              'immigration', $2)""", sid, NOW)
    await pool.execute("UPDATE agents SET status = 'busy', updated_at = $2 WHERE id = $1",
                       agent.id, NOW)
    offer_id: int = await pool.fetchval(
        """INSERT INTO offers (service, agent_id, for_call_sid, created_at, state, answered_at)
           VALUES ('immigration', $1, $2, $3, 'answered', $3) RETURNING id""",
        agent.id, sid, NOW)
    return agent.id, offer_id


async def test_status_change_ends_leftover_offers_and_offers_again(pool: asyncpg.Pool) -> None:
    """Setting a stuck agent available ends their live offer in the same step; the next
    offer to them is made without tripping the one-live-offer index."""
    agent_id, offer_id = await _stuck_agent(pool)
    changed = await agents.set_status(pool, agent_id, "available", NOW + timedelta(minutes=5))
    assert changed is not None
    assert changed.status == "available"
    left = await pool.fetchrow("SELECT state, result FROM offers WHERE id = $1", offer_id)
    assert left is not None
    assert (left["state"], left["result"]) == ("completed", "reset")
    # The caller is still there: their waitUrl keeps coming (a ghost is never offered).
    await pool.execute("UPDATE calls SET queue_seen_at = $1 WHERE call_sid = 'CAwaiting'",
                       NOW + timedelta(minutes=5))
    claim = await offers.claim(pool, NOW + timedelta(minutes=5), timedelta(seconds=35))
    assert claim is not None
    assert claim.for_call_sid == "CAwaiting"
    again = await agents.set_status(pool, agent_id, "offline", NOW + timedelta(minutes=6))
    assert again is not None
    assert again.status == "offline"
    assert await pool.fetchval(
        "SELECT state FROM offers WHERE id = $1", claim.offer_id) == "canceled"


async def test_admin_reset_of_a_stuck_agent_answers_200(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """The admin API saves the reset, answers 200 and leaves no live offer behind it."""
    agent_id, _ = await _stuck_agent(pool)
    client = await aiohttp_client(create_app(settings, flow=flow, pool=pool))
    response = await client.post(f"/admin/agents/{agent_id}/status", json={"status": "offline"},
                                 headers=AUTH)
    assert response.status == 200
    assert await pool.fetchval("""SELECT count(*) FROM offers WHERE agent_id = $1
                                  AND state IN ('ringing', 'answered')""", agent_id) == 0


async def test_repeated_agent_answer_counts_once(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """The same agent's key (accept webhook) twice: both bridge, `ivr_offers_total` moves once."""
    _agent_id, offer_id = await _stuck_agent(pool)
    await pool.execute("UPDATE offers SET state = 'ringing' WHERE id = $1", offer_id)
    # The app's time is the offer's: its sweep must not see a days-old ringing offer.
    app = create_app(settings.with_overrides(public_url=PUBLIC), flow=flow, pool=pool,
                     clock=HandClock(NOW))
    client = await aiohttp_client(app)
    path = f"/twilio/agent/accept?offer={offer_id}"
    first = await signed_post(client, PUBLIC, path, call_params("CA" + "a" * 32, Digits="1"))
    second = await signed_post(client, PUBLIC, path, call_params("CA" + "a" * 32, Digits="1"))
    assert first == second
    assert "<Queue" in first[1]
    sample = app[keys.METRICS].registry.get_sample_value
    assert sample("ivr_offers_total", {"service": "immigration", "result": "answered"}) == 1


async def test_status_callback_for_unknown_call_creates_nothing(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """A final status for a CallSid never seen: no call row, no outcome, one rejection."""
    app = create_app(settings.with_overrides(public_url=PUBLIC), flow=flow, pool=pool)
    client = await aiohttp_client(app)
    status, _ = await signed_post(client, PUBLIC, "/twilio/status",
                                  call_params("CA" + "b" * 32, CallStatus="completed"))
    assert status == 200
    assert await pool.fetchval("SELECT count(*) FROM calls") == 0
    sample = app[keys.METRICS].registry.get_sample_value
    assert sample("ivr_webhook_rejected_total", {"reason": "unknown_call"}) == 1
    assert sample("ivr_calls_total", {"service": "none", "outcome": "menu_hangup"}) == 0


async def test_fifty_concurrent_scrapes_read_the_database_once(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """Scrapes within one interval share a single read of the live gauges."""
    app = create_app(settings.with_overrides(live_gauges_seconds=60), flow=flow, pool=pool)
    client = await aiohttp_client(app)

    async def scrape() -> int:
        async with client.get("/metrics") as response:
            await response.read()
            return response.status

    assert await asyncio.gather(*(scrape() for _ in range(50))) == [200] * 50
    assert app[keys.METRICS].registry.get_sample_value("ivr_live_metrics_reads_total") == 1


async def test_metrics_body_is_rendered_at_most_once_a_second(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """A scrape within a second of another gets the same text; a later one sees new counts."""
    app = create_app(settings, flow=flow, pool=pool)
    client = await aiohttp_client(app)
    series = 'ivr_closed_calls_total{reason="holiday"} 1.0'
    first = await (await client.get("/metrics")).text()
    app[keys.METRICS].closed_calls.labels("holiday").inc()
    second = await (await client.get("/metrics")).text()
    assert second == first
    await asyncio.sleep(1.1)
    third = await (await client.get("/metrics")).text()
    assert series not in second
    assert series in third


async def test_metrics_token_is_required_when_set(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """With IVR_METRICS_TOKEN, /metrics wants that bearer token (as Prometheus can send)."""
    app = create_app(settings.with_overrides(metrics_token="scrape-secret"), flow=flow, pool=pool)
    client = await aiohttp_client(app)
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer nope"})).status == 401
    ok = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert ok.status == 200
    assert "ivr_calls_total" in await ok.text()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_metrics_on_their_own_port(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """With IVR_METRICS_PORT, /metrics answers there only; the webhook port says 404."""
    port = _free_port()
    app = create_app(settings.with_overrides(metrics_port=port), flow=flow, pool=pool)
    client = await aiohttp_client(app)
    assert (await client.get("/metrics")).status == 404
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
            assert response.status == 200
            assert "ivr_live_metrics_up 1.0" in await response.text()
        async with session.get(f"http://127.0.0.1:{port}/admin/agents") as response:
            assert response.status == 404


async def _slow_client(port: int, body: bool, limit: float) -> float:
    """Send a request one byte a second; return how long until the server closed it."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (b"POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\n")
    if body:
        writer.write(head)
    trickle = b"CallSid=CA" + b"1" * 490 if body else head
    try:
        for byte in trickle:
            if time.monotonic() - started > limit:
                break
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                async with asyncio.timeout(1):
                    if await reader.read(1024) == b"" and reader.at_eof():
                        break
            except TimeoutError:
                continue
            if reader.at_eof():
                break
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
    return time.monotonic() - started


async def test_slow_clients_are_closed_while_calls_go_on(
        settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """Twenty clients sending headers or body at a byte a second are closed within the
    read timeouts; normal requests are answered meanwhile (their latency is printed)."""
    bounded = settings.with_overrides(header_timeout_seconds=2.0, body_timeout_seconds=2.0)
    app = create_app(bounded, flow=flow, pool=pool)
    runner = web.AppRunner(app, access_log=None, **runner_options(bounded))
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as session:

            async def latency() -> float:
                started = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    assert response.status == 200
                return time.perf_counter() - started

            quiet = [await latency() for _ in range(20)]
            slow = [asyncio.create_task(_slow_client(port, body=i % 2 == 1, limit=30))
                    for i in range(20)]
            await asyncio.sleep(0.5)
            loaded = []
            for _ in range(20):
                loaded.append(await latency())
                await asyncio.sleep(0.05)
            closed_after = await asyncio.gather(*slow)
    finally:
        await runner.cleanup()
    print(f"\n/readyz median {statistics.median(quiet) * 1000:.1f} ms alone, "
          f"{statistics.median(loaded) * 1000:.1f} ms beside 20 slow clients; slow clients "
          f"closed after {min(closed_after):.1f}-{max(closed_after):.1f} s")
    assert max(closed_after) < 10, closed_after  # bounded (2 s setting), far below 30 s


def test_operations_settings_are_read_and_checked() -> None:
    """The new settings parse; a bad IVR_ADMIN_TOKENS is one line that never shows a token."""
    base = {"TWILIO_AUTH_TOKEN": "t", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "IVR_PUBLIC_URL": "https://ivr.example.org", "IVR_ADMIN_TOKEN": "admin",
            "IVR_HASH_KEY": "h" * 32, "IVR_AGENT_CALLER_ID": "+33477000000"}
    loaded = load_settings({**base, "IVR_ADMIN_TOKENS": "claire:" + "c" * 16 + ", paul:" + "p" * 16,
                            "IVR_METRICS_TOKEN": "m", "IVR_METRICS_PORT": "9464",
                            "IVR_LIVE_GAUGES_INTERVAL": "2.5", "IVR_HEADER_TIMEOUT": "3",
                            "IVR_BODY_TIMEOUT": "4"})
    assert loaded.admin_tokens == (("claire", "c" * 16), ("paul", "p" * 16))
    assert (loaded.metrics_token, loaded.metrics_port) == ("m", 9464)
    assert (loaded.live_gauges_seconds, loaded.header_timeout_seconds,
            loaded.body_timeout_seconds) == (2.5, 3.0, 4.0)
    with pytest.raises(SettingsError) as bad:
        load_settings({**base, "IVR_ADMIN_TOKENS": "claire:short-secret"})
    assert "IVR_ADMIN_TOKENS is invalid" in str(bad.value)
    assert "short-secret" not in str(bad.value)
    with pytest.raises(SettingsError, match="IVR_BODY_TIMEOUT='0' is invalid"):
        load_settings({**base, "IVR_BODY_TIMEOUT": "0"})
