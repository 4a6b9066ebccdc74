"""The ringback rounds a waiting caller was played, and the rings they heard from them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ivr.flow.model import Prompt
from ivr.flow.speaking import spoken_seconds
from ivr.rings import RingPolicy, rings_heard

Executor = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy

# One event per waitUrl answered with the ringback clip, while the call has no outcome yet
# (a transferred caller's second wait is not counted in rings).
_PLAYED = """
    INSERT INTO call_events (call_sid, event_key, kind, at, detail)
    SELECT $1, 'ringback:' || $2::timestamptz::text, 'ringback', $2, $3 FROM calls
    WHERE call_sid = $1 AND outcome IS NULL
    ON CONFLICT (call_sid, event_key) DO NOTHING"""


async def played(db: Executor, call_sid: str, now: datetime, waiting: str,
                 before: Iterable[Prompt] = ()) -> None:
    """A waitUrl was answered: with ringback, note when the clip starts (after `before`)."""
    if waiting == "ringback":
        await db.execute(_PLAYED, call_sid, now, {"lead": spoken_seconds(before)})


async def rings(db: Executor, call_sid: str, now: datetime, policy: RingPolicy,
                wait: float) -> int:
    """The ring a wait ending `now` ended in: cycles heard, or a cycle's slice of the wait."""
    rows = await db.fetch(
        """SELECT extract(epoch FROM at - $2::timestamptz)::float8 AS t,
                  COALESCE((detail->>'lead')::float8, 0) AS lead
           FROM call_events WHERE call_sid = $1 AND kind = 'ringback'""", call_sid, now)
    if not rows:  # hold music (no ring to hear) or no round answered yet
        return policy.ring_of(wait)
    return rings_heard([(r["t"], r["lead"]) for r in rows], 0.0, policy.cycle_seconds)
