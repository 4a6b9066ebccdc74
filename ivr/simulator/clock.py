"""Virtual and real time for simulated calls; the virtual clock is shared with the app."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, Protocol

from ivr.clock import SystemClock, Wake, WallTimer


class SimClock(Protocol):
    """What simulated calls need from time."""

    def now(self) -> datetime:
        """The current time."""
        ...

    async def sleep(self, seconds: float, wake: Wake | None = None) -> bool:
        """Sleep; True when `wake` fired first."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start an actor (a call leg)."""
        ...


class RealClock(SystemClock, WallTimer):
    """Wall-clock time, for driving a server at a URL."""


class VirtualClock:
    """Time that jumps ahead whenever every actor is asleep: a 40 s wait runs in milliseconds.

    Actors are counted while they run (including while they wait for an HTTP answer);
    when none runs, the clock moves to the earliest wake-up time.
    """

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._heap: list[tuple[float, int, asyncio.Future[bool]]] = []
        self._order = itertools.count()
        self._running = 0
        self._epoch = start

    def now(self) -> datetime:
        """The virtual time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by hand (only between calls)."""
        self._now += timedelta(seconds=seconds)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start an actor, counted as running until it sleeps or ends."""
        self._running += 1

        async def actor() -> Any:
            try:
                return await coro
            finally:
                self._running -= 1
                self._schedule_advance()

        return asyncio.get_running_loop().create_task(actor())

    async def sleep(self, seconds: float, wake: Wake | None = None) -> bool:
        """Sleep in virtual time; True when `wake` fired first."""
        if wake is not None and wake.fired:
            return True
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        due = self._offset(self._now) + max(seconds, 0.0)
        heapq.heappush(self._heap, (due, next(self._order), future))
        if wake is not None:
            wake._notify = lambda: self._resolve(future, True)
        self._running -= 1
        self._schedule_advance()
        return await future

    def _offset(self, moment: datetime) -> float:
        return (moment - self._epoch).total_seconds()

    def _resolve(self, future: asyncio.Future[bool], early: bool) -> None:
        if not future.done():
            self._running += 1
            future.set_result(early)

    def _schedule_advance(self) -> None:
        if self._running == 0:
            asyncio.get_running_loop().call_soon(self._advance)

    def _advance(self) -> None:
        if self._running > 0:
            return
        while self._heap:
            due, _, future = heapq.heappop(self._heap)
            if future.done():
                continue
            if math.isinf(due):
                continue  # nothing will ever wake it: the actor waits for a signal only
            if due > self._offset(self._now):
                self._now = self._epoch + timedelta(seconds=due)
            self._resolve(future, False)
            return
