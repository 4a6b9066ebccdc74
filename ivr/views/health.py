"""Liveness, readiness and the Prometheus scrape (optionally on its own port or token)."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ivr import keys
from ivr.live import LIVE

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    """The process is up."""
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    """The database answers within a webhook's budget (/healthz stays up meanwhile)."""
    try:
        async with asyncio.timeout(request.app[keys.SETTINGS].db_deadline_seconds):
            await request.app[keys.POOL].fetchval("SELECT 1")
    except Exception:
        log.warning("readiness check failed", exc_info=True)
        return web.Response(status=503, text="database unreachable\n")
    return web.Response(text="ready\n")


async def scrape(app: web.Application, request: web.Request) -> web.Response:
    """Prometheus text format of `app`, behind the metrics token when one is set."""
    token = app[keys.SETTINGS].metrics_token
    if token is not None:
        given = request.headers.get("Authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, f"Bearer {token}".encode()):
            return web.Response(status=401, text="missing or wrong bearer token\n",
                                headers={"WWW-Authenticate": "Bearer"})
    body = await app[LIVE].exposition(app)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def metrics(request: web.Request) -> web.Response:
    """/metrics on the main port, unless the metrics have a port of their own."""
    if request.app[keys.SETTINGS].metrics_port is not None:
        raise web.HTTPNotFound(text="/metrics is served on IVR_METRICS_PORT\n")
    return await scrape(request.app, request)


async def metrics_site(app: web.Application) -> AsyncIterator[None]:
    """Serve only /metrics on IVR_METRICS_PORT, for as long as the app runs."""
    settings = app[keys.SETTINGS]

    async def on_metrics_port(request: web.Request) -> web.Response:
        return await scrape(app, request)

    side = web.Application()
    side.router.add_get("/metrics", on_metrics_port)
    runner = web.AppRunner(side, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.metrics_port).start()
    log.info("metrics on http://%s:%s/metrics", settings.host, settings.metrics_port)
    try:
        yield
    finally:
        await runner.cleanup()
