"""Gauges read from PostgreSQL at scrape time, so every instance reports the same totals."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from ivr import keys
from ivr.store import agents, crisis

log = logging.getLogger(__name__)
STATUSES = ("available", "busy", "wrap_up", "offline")


async def refresh_live_gauges(app: web.Application) -> None:
    """Fill callers waiting, longest wait, agents by status and crisis mode."""
    metrics, pool, flow = app[keys.METRICS], app[keys.POOL], app[keys.FLOW]
    now = app[keys.CLOCK].now()
    try:
        async with asyncio.timeout(3):
            waiting = await pool.fetch(
                """SELECT service, count(*) AS n, max(extract(epoch FROM $1 - queued_at)) AS w
                   FROM calls WHERE state = 'queued' GROUP BY service""", now)
            staff = await agents.counts_by_status(pool, now)
            on = await crisis.current(pool, now)
    except Exception:
        log.warning("live gauges not refreshed", exc_info=True)
        metrics.live_up.set(0)
        return
    by_service = {r["service"]: r for r in waiting}
    for service in flow.services:
        row = by_service.get(service)
        metrics.callers_waiting.labels(service).set(row["n"] if row else 0)
        metrics.longest_wait.labels(service).set(max(float(row["w"] or 0), 0) if row else 0)
        for status in STATUSES:
            metrics.agents.labels(service, status).set(staff.get((service, status), 0))
    metrics.crisis_mode.set(1 if on else 0)
    metrics.live_up.set(1)
