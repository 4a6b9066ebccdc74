"""The crisis announcement, read from PostgreSQL once and again only when it changes.

Every call's first webhook and every menu answer need it; reading it each time was 6% of the
server's samples (py-spy, 200 concurrent calls) and one of the first webhook's two round
trips. `crisis.switch` sends a NOTIFY in its transaction; each instance LISTENs on a
connection of its own (outside the pool, which keeps all its connections for requests
and can close without waiting for it) and drops its copy when told. The expiry (`until`)
is checked against the request's time, so an announcement ends on time without any
notification. Without a listening connection (lost, or not yet opened) every read goes to
PostgreSQL, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from ivr.db.pool import connect_beside
from ivr.flow.engine import Crisis
from ivr.store.crisis import CHANNEL

log = logging.getLogger(__name__)
RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class _State:
    message: str | None
    active: bool
    until: datetime | None
    translated: Mapping[str, str]


class CrisisCache:
    """The stored crisis state, kept while PostgreSQL does not notify a change."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: asyncpg.Connection | None = None
        self._state: _State | None = None
        # The last state read, kept even when not listening: what an outage plays.
        self._last: _State | None = None
        self._generation = 0
        self._retry_at = 0.0

    async def start(self) -> None:
        """Hold a connection that LISTENs for changes (a failure only disables the cache)."""
        self._retry_at = asyncio.get_running_loop().time() + RETRY_SECONDS
        try:
            conn = await connect_beside(self._pool)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            log.warning("crisis cache: no listening connection; reading every time")
            return
        if conn is None:
            return
        try:
            await conn.add_listener(CHANNEL, self._changed)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            log.warning("crisis cache: LISTEN failed; reading every time")
            conn.terminate()
            return
        conn.add_termination_listener(self._lost)
        self._conn = conn
        self._changed()

    async def stop(self) -> None:
        """Close the listening connection."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.remove_termination_listener(self._lost)
            try:
                await asyncio.wait_for(conn.close(), 2)
            except (OSError, asyncpg.InterfaceError, TimeoutError):
                conn.terminate()

    def invalidate(self) -> None:
        """Drop the held state: this instance has just switched the announcement itself.

        The NOTIFY reaches this instance's listener too, but a moment later; a switch made
        here is read back at once, whatever that delay.
        """
        self._changed()

    def _changed(self, *_: Any) -> None:
        self._generation += 1
        self._state = None

    def _lost(self, *_: Any) -> None:
        log.warning("crisis cache: listening connection lost; reading every time")
        self._conn = None
        self._changed()

    async def current(self, now: datetime) -> Crisis | None:
        """The announcement to play at `now`, or None (switched off or expired)."""
        state = self._state
        if state is None:
            state = await self._load()
        if state.active and state.message and (state.until is None or state.until > now):
            return Crisis(state.message, state.translated)
        return None

    def remembered(self, now: datetime) -> Crisis | None:
        """The announcement at `now` from memory only (None when not held): for outages."""
        state = self._state or self._last
        if state and state.active and state.message and (state.until is None
                                                         or state.until > now):
            return Crisis(state.message, state.translated)
        return None

    async def _load(self) -> _State:
        if self._conn is None and asyncio.get_running_loop().time() >= self._retry_at:
            await self.start()
        generation = self._generation
        row = await self._pool.fetchrow(
            "SELECT message, active, until, translated FROM crisis_state WHERE id = 1")
        state = _State(row["message"], row["active"], row["until"],
                       row["translated"] or {}) if row else _State(None, False, None, {})
        self._last = state
        # Kept only if listening and no change was notified while it was being read.
        if self._conn is not None and generation == self._generation:
            self._state = state
        return state
