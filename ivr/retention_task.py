"""The app's daily purge: each instance wakes hourly; the one that takes the lock purges."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from ivr import keys
from ivr.store import retention

log = logging.getLogger(__name__)
WAKE_SECONDS = 3600.0


async def _loop(pool: asyncpg.Pool, app: web.Application, days: int) -> None:
    while True:
        try:
            purged = await retention.purge_if_due(pool, app[keys.CLOCK].now(), days)
            if purged is not None:
                log.info("retention: deleted %d calls older than %d days (%d events, %d offers)",
                         purged.calls, days, purged.events, purged.offers)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError,
                asyncpg.exceptions.InternalClientError) as exc:
            # The database may be away (or its pool closed); the next wake-up tries again.
            log.warning("retention: purge skipped: %s", exc)
        await asyncio.sleep(WAKE_SECONDS)


async def daily_purge(app: web.Application) -> AsyncIterator[None]:
    """Run the purge loop for the app's lifetime (a cleanup_ctx)."""
    task = asyncio.create_task(_loop(app[keys.POOL], app, app[keys.SETTINGS].retention_days))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
