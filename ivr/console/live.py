"""One poll of PostgreSQL per instance, shared by every console viewer of that instance."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import keys
from ivr.store import calls, console_live, crisis, survey, transfers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Everything the console shows live, read at one moment from PostgreSQL."""

    now: datetime
    agents: list[console_live.AgentRow]
    offers: dict[int, console_live.LiveOffer]
    waiting: dict[str, tuple[int, float]]
    crisis: crisis.CrisisStatus
    figures: list[console_live.ServiceFigures]
    # Today, per service: (answered, never transferred) and (survey answers, satisfied).
    orientation: dict[str, tuple[int, int]]
    satisfaction: dict[str, tuple[int, int]]
    # Per service: callbacks waiting for their turn and the longest of their waits (issue 16).
    callbacks: dict[str, tuple[int, float]] = field(default_factory=dict)


def today_bounds(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The local day (of the flow's time zone) that contains `now`, as two instants."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Aware arithmetic is wall-clock: the next local midnight, even on a DST change day.
    return start, start + timedelta(days=1)


async def read_snapshot(app: web.Application) -> Snapshot:
    """Read the live state once."""
    pool, now = app[keys.POOL], app[keys.CLOCK].now()
    start, end = today_bounds(now, app[keys.FLOW].timezone)
    return Snapshot(now, await console_live.agents_now(pool, now),
                    await console_live.live_offers(pool), await calls.waiting_by_service(pool, now),
                    await crisis.status(pool, now),
                    await console_live.today_figures(pool, start, end),
                    await transfers.orientation_by_service(pool, start, end),
                    await survey.satisfaction_by_service(pool, start, end),
                    callbacks=await console_live.pending_callbacks(pool, now))


class Hub:
    """Polls only while someone watches, and wakes every viewer with the same snapshot."""

    def __init__(self, app: web.Application, interval: float) -> None:
        self.app = app
        self.interval = interval
        self.latest: Snapshot | None = None
        self.version = 0
        self.closed = False
        self.viewers = 0
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        while not self.closed and self.viewers > 0:
            try:
                async with asyncio.timeout(5):
                    snapshot = await read_snapshot(self.app)
            except Exception:
                log.warning("console live state not read", exc_info=True)
            else:
                async with self._changed:
                    self.latest, self.version = snapshot, self.version + 1
                    self._changed.notify_all()
            await asyncio.sleep(self.interval)
        self._task = None

    async def follow(self) -> AsyncIterator[Snapshot]:
        """Each new snapshot, until the app shuts down; the caller stops by breaking out."""
        self.viewers += 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._poll())
        seen = 0
        try:
            while True:
                async with self._changed:
                    await self._changed.wait_for(partial(self._fresh, seen))
                if self.closed or self.latest is None:
                    return
                seen = self.version
                yield self.latest
        finally:
            self.viewers -= 1

    def _fresh(self, seen: int) -> bool:
        return self.closed or self.version > seen

    async def close(self) -> None:
        """Release every viewer (the app is shutting down)."""
        self.closed = True
        async with self._changed:
            self._changed.notify_all()
        if self._task is not None:
            self._task.cancel()
