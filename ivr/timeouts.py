"""Bounds on reading a request, so slow clients cannot pin the server's connections."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from ivr.settings import Settings

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def runner_options(settings: Settings) -> dict[str, Any]:
    """aiohttp runner options: the idle timer also closes a client whose headers never end."""
    # aiohttp arms keepalive_timeout when a connection opens and after each response, and
    # closes the connection if no complete request head arrived by then.
    # After a 408, aiohttp drains the unread body for lingering_time: keep that short too.
    return {"keepalive_timeout": settings.header_timeout_seconds, "lingering_time": 1.0}


def body_deadline(seconds: float, max_bytes: int) -> Middleware:
    """Read the whole body within `seconds`, or answer 408 and close the connection."""

    @web.middleware
    async def bounded_body(request: web.Request, handler: Handler) -> web.StreamResponse:
        too_large = request.content_length is not None and request.content_length > max_bytes
        if request.body_exists and not too_large:
            try:
                async with asyncio.timeout(seconds):
                    await request.read()  # kept by aiohttp: post() and json() reuse it
            except TimeoutError:
                log.warning("closed %s %s: body not received within %s s", request.method,
                            request.path, seconds)
                response = web.Response(status=408, text="request body too slow\n")
                response.force_close()
                return response
        return await handler(request)

    return bounded_body
