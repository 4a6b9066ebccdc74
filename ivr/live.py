"""Gauges read from PostgreSQL, so every instance reports the same totals.

They are read at most once per interval, whatever the number of scrapes: twenty clients
scraping at 120 requests/s used to put three queries per scrape on the webhooks' database.
"""

from __future__ import annotations

import asyncio
import logging
import math

from aiohttp import web
from prometheus_client import generate_latest

from ivr import keys
from ivr.store import agents, callbacks, calls, crisis

log = logging.getLogger(__name__)
STATUSES = ("available", "busy", "wrap_up", "offline")
# Measured: 110 scrapes/s rendering each time cost half a core and took /twilio/voice's
# median from 6 to 23-27 ms, even with the gauges' reads shared.
RENDER_SECONDS = 1.0


class LiveGauges:
    """One read per interval, shared by every scrape of this instance."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval = interval_seconds
        self._lock = asyncio.Lock()
        self._read_at = -math.inf
        self._body: bytes | None = None
        self._rendered_at = -math.inf

    async def refresh(self, app: web.Application) -> bool:
        """Read the gauges unless a read of this interval already did (or is doing) it."""
        async with self._lock:  # concurrent scrapes wait for the one read under way
            now = asyncio.get_running_loop().time()
            if now - self._read_at < self.interval:
                return False
            await refresh_live_gauges(app)
            self._read_at = asyncio.get_running_loop().time()
            return True

    async def exposition(self, app: web.Application) -> bytes:
        """The /metrics body, rendered at most once a second (4-5 ms of CPU each time)."""
        read = await self.refresh(app)
        now = asyncio.get_running_loop().time()
        if read or self._body is None or now - self._rendered_at >= RENDER_SECONDS:
            self._body = generate_latest(app[keys.METRICS].registry)
            self._rendered_at = now
        return self._body


LIVE = web.AppKey("live_gauges", LiveGauges)


async def refresh_live_gauges(app: web.Application) -> None:
    """Fill callers waiting, longest wait, agents by status and crisis mode."""
    metrics, pool, flow = app[keys.METRICS], app[keys.POOL], app[keys.FLOW]
    now = app[keys.CLOCK].now()
    metrics.live_reads.inc()
    try:
        async with asyncio.timeout(3):
            waiting = await calls.waiting_by_service(pool, now)
            staff = await agents.counts_by_status(pool, now)
            on = await crisis.current(pool, now)
            pending = await callbacks.pending_by_service(pool, now)
    except Exception:
        log.warning("live gauges not refreshed", exc_info=True)
        metrics.live_up.set(0)
        return
    for service in flow.services:
        count, longest = waiting.get(service, (0, 0.0))
        metrics.callers_waiting.labels(service).set(count)
        metrics.longest_wait.labels(service).set(longest)
        for status in STATUSES:
            metrics.agents.labels(service, status).set(staff.get((service, status), 0))
        metrics.callbacks_pending.labels(service).set(pending.get(service, (0, 0.0))[0])
    metrics.crisis_mode.set(1 if on else 0)
    metrics.live_up.set(1)
