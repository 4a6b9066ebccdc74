"""Liveness, readiness and the Prometheus scrape."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ivr import keys
from ivr.live import refresh_live_gauges

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    """The process is up."""
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    """The database answers."""
    try:
        async with asyncio.timeout(2):
            await request.app[keys.POOL].fetchval("SELECT 1")
    except Exception:
        log.warning("readiness check failed", exc_info=True)
        return web.Response(status=503, text="database unreachable\n")
    return web.Response(text="ready\n")


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format; live gauges are read from PostgreSQL first."""
    await refresh_live_gauges(request.app)
    body = generate_latest(request.app[keys.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
