"""Asks for an offer pass while callbacks are due: their retry delay ends with no webhook."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from ivr import keys
from ivr.callbacks.offer import thresholds
from ivr.store import callbacks

log = logging.getLogger(__name__)


async def tick(app: web.Application) -> bool:
    """One look: True when callbacks were due and the dispatcher was woken."""
    if await callbacks.due_count(app[keys.POOL], app[keys.CLOCK].now()) == 0:
        return False
    app[keys.DISPATCHER].kick()
    return True


async def _loop(app: web.Application, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await tick(app)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("callbacks: pass skipped: %s", exc)


async def callback_ticker(app: web.Application) -> AsyncIterator[None]:
    """Look for due callbacks every IVR_CALLBACK_POLL_SECONDS for the app's lifetime."""
    offering = thresholds(app[keys.FLOW])
    if app[keys.SETTINGS].callback_key is None and offering != "none":
        log.warning("callbacks: IVR_CALLBACK_KEY is not set, so none is offered (the flow "
                    "offers them: %s)", offering)
    task = asyncio.create_task(_loop(app, app[keys.SETTINGS].callback_poll_seconds))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
