"""The app's clock: every event time comes from here, so tests can run on virtual time."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Protocol


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current time (timezone-aware, UTC)."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Return the wall-clock time in UTC."""
        return datetime.now(UTC)


class Wake:
    """A signal that ends a sleep early (an agent dequeued the caller, for example)."""

    def __init__(self) -> None:
        self.fired = False
        self._notify: Callable[[], None] | None = None

    def fire(self) -> None:
        """End the sleep now (or the next one, if none is under way)."""
        if not self.fired:
            self.fired = True
            if self._notify is not None:
                self._notify()


class WallTimer:
    """Sleeping on the event loop's clock, cut short by a Wake; starting tasks on the loop."""

    async def sleep(self, seconds: float, wake: Wake | None = None) -> bool:
        """Sleep until `seconds` pass (forever if infinite) or `wake` fires; True if it fired."""
        if wake is None:
            await asyncio.sleep(seconds)
            return False
        if wake.fired:
            return True
        event = asyncio.Event()
        wake._notify = event.set
        try:
            await asyncio.wait_for(event.wait(), timeout=None if math.isinf(seconds) else seconds)
        except TimeoutError:
            return False
        return True

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start a task on the running loop."""
        return asyncio.get_running_loop().create_task(coro)
