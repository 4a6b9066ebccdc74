"""Logging for `ivr serve`: lines are batched on the event loop and written a few times a second.

Measured with py-spy at 200 concurrent calls: aiohttp's default access log (a strftime and
header lookups per request, then one write per line) took 8% of the server's samples, and a
QueueListener thread made it worse (the thread fights the event loop for the GIL). Here the
access line is short, records are formatted as they come, and their text goes out in one
write every FLUSH_SECONDS (at once for warnings and errors, and when the batch is full).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable
from typing import TextIO

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

ACCESS_LOGGER = logging.getLogger("aiohttp.access")
FLUSH_SECONDS = 0.25
MAX_BATCH = 500


class BatchedHandler(logging.Handler):
    """Collect formatted lines; write them together (warnings and worse at once)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Format now (the record's values are current), write later."""
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING or len(self.lines) >= MAX_BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the batch in one call."""
        if not self.lines:
            return
        text = "\n".join(self.lines) + "\n"
        self.lines.clear()
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed stderr must not take the server down


def batch_logging() -> BatchedHandler:
    """Replace the root logger's stream handlers by one batched handler with their format."""
    root = logging.getLogger()
    handler = BatchedHandler()
    if root.handlers:
        handler.setFormatter(root.handlers[0].formatter)
    root.handlers = [handler]
    return handler


def flushing(handler: BatchedHandler) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that flushes the batch every FLUSH_SECONDS while the app runs."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        async def tick() -> None:
            while True:
                await asyncio.sleep(FLUSH_SECONDS)
                handler.flush()

        task = asyncio.create_task(tick())
        yield
        task.cancel()
        handler.flush()

    return run


class AccessLog(AbstractAccessLogger):
    """`client "METHOD path?query" status bytes milliseconds`, formatted only when enabled."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """One access line (the handler's format adds the time stamp)."""
        self.logger.info('%s "%s %s" %s %s %.1fms', request.remote, request.method,
                         request.path_qs, response.status, response.body_length, time * 1000)

    @property
    def enabled(self) -> bool:
        """Skip the work when INFO is off for the access logger."""
        return self.logger.isEnabledFor(logging.INFO)
