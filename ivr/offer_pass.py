"""One offer pass at a time per instance: webhooks that want one share the next.

Measured (make bench, 200 concurrent calls): every waitUrl ran its own offer pass, each
holding a pooled connection while it waited for the global offer lock, so the pool (10
connections) filled with waiters and every other webhook queued behind them: complete
calls fell from 57/s at 50 calls to 2/s at 200. Here a caller that asks for a pass waits
for the first pass that *starts after* it asked (so its own queue entry is seen, as
before), and only one pass per instance waits for the lock at any time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class OfferPasses:
    """Coalesce requests for an offer pass into as few passes as keep every caller served."""

    def __init__(self, run: Callable[[], Awaitable[int]]) -> None:
        self._run = run
        self._lock = asyncio.Lock()
        self._started = 0

    async def request(self) -> None:
        """Return once a pass that started after this call has finished."""
        wanted = self._started + 1
        async with self._lock:
            if self._started >= wanted:
                return  # a pass began after we asked and has ended: it saw our caller
            self._started += 1
            await self._run()
