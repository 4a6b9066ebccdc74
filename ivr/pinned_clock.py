"""A webhook's time, pinned for everything its handler does, however late that runs.

A handler that outlives its database deadline (ivr/degraded.py) and a journaled webhook
replayed after the outage (ivr/replay.py) both write at the time the webhook arrived, so
waits and rings are those the caller lived.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from ivr.clock import Clock

_AT: ContextVar[datetime | None] = ContextVar("ivr_webhook_at", default=None)


class PinnedClock:
    """The app's clock, except inside a webhook whose time is pinned."""

    def __init__(self, inner: Clock) -> None:
        self.inner = inner

    def now(self) -> datetime:
        """The pinned time of the current webhook, or the inner clock's."""
        return _AT.get() or self.inner.now()


@contextmanager
def pinned(at: datetime) -> Iterator[None]:
    """Pin the time for the code run inside (and the tasks it creates)."""
    token = _AT.set(at)
    try:
        yield
    finally:
        _AT.reset(token)
