"""The crisis announcement, shared by every instance through PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ivr.flow.engine import Crisis

MAX_MESSAGE = 1000
# Instances LISTEN here to drop their cached copy (ivr/crisis_cache.py).
CHANNEL = "ivr_crisis"


@dataclass(frozen=True)
class CrisisStatus:
    """What `ivr crisis status` shows."""

    active: bool
    message: str | None
    until: datetime | None
    changed_at: datetime | None
    changed_by: str | None


async def current(pool: asyncpg.Pool, now: datetime) -> Crisis | None:
    """The announcement to play now, or None (switched off or expired)."""
    row = await pool.fetchrow(
        """SELECT message, translated FROM crisis_state
           WHERE active AND (until IS NULL OR until > $1)""", now)
    if row is None or not row["message"]:
        return None
    return Crisis(row["message"], row["translated"])


async def status(pool: asyncpg.Pool, now: datetime) -> CrisisStatus:
    """The stored state, with expiry applied."""
    row = await pool.fetchrow("SELECT * FROM crisis_state WHERE id = 1")
    if row is None:
        return CrisisStatus(False, None, None, None, None)
    live = bool(row["active"]) and (row["until"] is None or row["until"] > now)
    return CrisisStatus(live, row["message"], row["until"], row["changed_at"], row["changed_by"])


async def switch(pool: asyncpg.Pool, *, active: bool, message: str | None,
                 until: datetime | None, now: datetime, by: str,
                 translated: Mapping[str, str] | None = None) -> None:
    """Switch the announcement on or off, logging who did it and when.

    `translated`: the message in the flow's other languages (code -> text), if given.
    """
    if active and not (message and message.strip()):
        raise ValueError("a crisis announcement needs a message")
    if message is not None and len(message) > MAX_MESSAGE:
        raise ValueError(f"the message is longer than {MAX_MESSAGE} characters")
    if active and until is not None and until <= now:
        raise ValueError("'until' is already past")
    message = message.strip() if message else None
    texts = {code: text.strip() for code, text in (translated or {}).items()
             if active and text and text.strip()}
    if any(len(text) > MAX_MESSAGE for text in texts.values()):
        raise ValueError(f"a translated message is longer than {MAX_MESSAGE} characters")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO crisis_state (id, message, active, until, changed_at, changed_by,
                                        translated)
               VALUES (1, $1, $2, $3, $4, $5, $6)
               ON CONFLICT (id) DO UPDATE SET message = EXCLUDED.message,
                   active = EXCLUDED.active, until = EXCLUDED.until,
                   changed_at = EXCLUDED.changed_at, changed_by = EXCLUDED.changed_by,
                   translated = EXCLUDED.translated""",
            message, active, until if active else None, now, by, texts)
        await conn.execute(
            """INSERT INTO crisis_changes (active, message, until, changed_at, changed_by)
               VALUES ($1, $2, $3, $4, $5)""", active, message, until, now, by)
        await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
