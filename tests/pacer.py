"""Virtual time at a pace a browser can follow, frozen at the moments a test looks at."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ivr.simulator.clock import VirtualClock

Condition = Callable[[], Awaitable[bool]]


class Pacer:
    """An actor of the virtual clock: while it runs, time stands still.

    It sleeps `step` virtual seconds, then holds the clock for `pause` real seconds, so
    time moves at most step/pause times faster than the wall clock. When the condition
    set by `hold_when` becomes true it keeps holding until `release`, so the page can be
    checked at that exact moment of the call.
    """

    def __init__(self, clock: VirtualClock, step: float = 1.0, pause: float = 0.01) -> None:
        self.clock = clock
        self.step = step
        self.pause = pause
        self._condition: Condition | None = None
        self._held = asyncio.Event()
        self._release = asyncio.Event()
        self._stopped = False
        self._task = clock.spawn(self._run())

    async def _run(self) -> None:
        while not self._stopped:
            if self._condition is not None and await self._condition():
                self._condition = None
                self._release.clear()
                self._held.set()
                await self._release.wait()  # still running: the clock cannot move
            await asyncio.sleep(self.pause)
            await self.clock.sleep(self.step)

    async def hold_when(self, condition: Condition, within: float = 60.0) -> None:
        """Let time run until `condition` holds, then freeze it there."""
        self._held.clear()
        self._condition = condition
        self._release.set()
        await asyncio.wait_for(self._held.wait(), within)

    async def stop(self) -> None:
        """Let time run freely again."""
        self._stopped = True
        self._condition = None
        self._release.set()
        await self._task
