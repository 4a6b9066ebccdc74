"""Gauges read from PostgreSQL at scrape time, so every instance reports the same totals."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from ivr import keys
from ivr.store import agents, calls, crisis

log = logging.getLogger(__name__)
STATUSES = ("available", "busy", "wrap_up", "offline")


async def refresh_live_gauges(app: web.Application) -> None:
    """Fill callers waiting, longest wait, agents by status and crisis mode."""
    metrics, pool, flow = app[keys.METRICS], app[keys.POOL], app[keys.FLOW]
    now = app[keys.CLOCK].now()
    try:
        async with asyncio.timeout(3):
            waiting = await calls.waiting_by_service(pool, now)
            staff = await agents.counts_by_status(pool, now)
            on = await crisis.current(pool, now)
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
    metrics.crisis_mode.set(1 if on else 0)
    metrics.live_up.set(1)
