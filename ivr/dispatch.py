"""The dispatcher: one task per instance makes offers, outside every request handler.

Webhooks only wake it: `kick()` wakes this instance's task at once; `wake()` also sends a
PostgreSQL NOTIFY so the other instances' dispatchers look too (an agent freed on one
instance may serve a caller whose waitUrl goes to another). `offers.claim` serialises
claims across instances, so several dispatchers never offer one caller twice. Between
events the task sleeps until the next thing that can become due (a wrap-up that ends, a
ringing offer whose final callback is overdue), and at most a short tick on the wall
clock in case a notification was lost. Each pass first sweeps what is stuck (ivr/sweep.py)
when its time has come. On a virtual clock (the simulator's) the task
sleeps on that clock, counted as one of its actors, so simulated time stays deterministic;
there it wakes only on events (every waitUrl kicks it, so a wrap-up's end is seen at the
next one): a timed wake-up would move virtual time forward on its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import asyncpg

from ivr import acd
from ivr.clock import Wake
from ivr.db.pool import connect_beside
from ivr.store import offers
from ivr.sweep import SWEEP_EVERY, Swept, reconcile, sweep

log = logging.getLogger(__name__)
CHANNEL = "ivr_offers"
STOP_SECONDS = 5.0


@runtime_checkable
class Timer(Protocol):
    """Sleeping and starting tasks: the wall clock's, or a virtual clock's."""

    async def sleep(self, seconds: float, wake: Any = None) -> bool:
        """Sleep; True when `wake` fired first."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start a task."""
        ...


class Dispatcher:
    """Makes offers whenever woken, and when something becomes due."""

    def __init__(self, deps: acd.Offering, timer: Timer, tick_seconds: float | None, *,
                 hold: Callable[[], bool] | None = None) -> None:
        """`tick_seconds`: the longest sleep on the wall clock; None on a virtual clock.

        `hold`: while it answers True no offer is made (the outage journal is replayed).
        """
        self._deps = deps
        self._hold = hold
        self._timer = timer
        self._tick = tick_seconds
        self._id = uuid.uuid4().hex
        self._wake = Wake()
        self._pending = True  # a first pass at start-up serves callers already waiting
        self._stopping = False
        self._task: asyncio.Task[Any] | None = None
        self._listener: asyncpg.Connection | None = None
        self.passes = 0
        self._swept_at: datetime | None = None

    @property
    def deps(self) -> acd.Offering:
        """What this dispatcher makes offers with."""
        return self._deps

    async def start(self) -> None:
        """LISTEN for other instances' wake-ups (best effort) and start the task."""
        try:
            conn = await connect_beside(self._deps.pool)
            if conn is not None:
                await conn.add_listener(CHANNEL, self._notified)
                self._listener = conn
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            log.warning("dispatcher: no LISTEN connection; relying on the tick")
        self._task = self._timer.spawn(self._run())

    async def stop(self) -> None:
        """Let the current pass end, then stop the task and close the listener."""
        self._stopping = True
        self._wake.fire()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_SECONDS)
            except TimeoutError:
                self._task.cancel()
        conn, self._listener = self._listener, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 2)
            except (OSError, asyncpg.InterfaceError, TimeoutError):
                conn.terminate()

    def kick(self) -> None:
        """Make a pass soon on this instance (free: no I/O)."""
        self._pending = True
        self._wake.fire()

    async def wake(self) -> None:
        """Make a pass here and on every other instance (one NOTIFY)."""
        self.kick()
        await self._deps.pool.execute("SELECT pg_notify($1, $2)", CHANNEL, self._id)

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        if payload != self._id:
            self.kick()

    async def _run(self) -> None:
        while not self._stopping:
            if not self._pending:
                self._wake = Wake()
                await self._timer.sleep(await self._pause(), self._wake)
            if self._stopping:
                break
            self._pending = False
            try:
                self.passes += 1
                await self._sweep_when_due()
                if self._hold is not None and self._hold():
                    continue  # the replay kicks this task again once the journal is empty
                if await acd.offer_waiting(self._deps) >= acd.MAX_OFFERS_PER_PASS:
                    self._pending = True  # more to offer: go on without waiting
            except Exception:
                log.exception("dispatcher pass failed")
                self._wake = Wake()
                await self._timer.sleep(1.0, self._wake)

    async def _sweep_when_due(self) -> None:
        """At the first pass, then at most every SWEEP_EVERY of the app's clock."""
        now = self._deps.clock.now()
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY:
            return
        if self._swept_at is None:
            reconciled = await reconcile(self._deps)
            if reconciled:
                log.warning("start-up: %d offers ended from Twilio's call status", reconciled)
        self._swept_at = now
        swept = await sweep(self._deps)
        if swept != Swept():
            log.warning("sweep: %d offers expired, %d orphaned offers ended, %d callers gone",
                        swept.expired, swept.orphaned, swept.gone)

    async def _pause(self) -> float:
        """Seconds until something becomes due, at most the tick; forever on a virtual clock."""
        if self._tick is None:
            return math.inf
        try:
            due = await offers.next_due(self._deps.pool, self._deps.clock.now(),
                                        self._deps.stale_after)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            due = None
        pause = math.inf if due is None else \
            max((due - self._deps.clock.now()).total_seconds(), 0.0) + 0.001
        return min(pause, self._tick)
