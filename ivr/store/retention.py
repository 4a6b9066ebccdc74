"""The retention period of call records: what is older is deleted, once a day for all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

PURGE_JOB = "purge"
# Any constant works as long as every instance uses the same one.
PURGE_LOCK_KEY = 0x1F5_0DAE
Connection = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class Purged:
    """How many rows one purge deleted."""

    calls: int
    events: int
    offers: int


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def _purge(conn: Connection, cutoff: datetime, dry_run: bool) -> Purged:
    old = "SELECT call_sid FROM calls WHERE arrived_at < $1"
    if dry_run:
        row = await conn.fetchrow(
            f"""SELECT (SELECT count(*) FROM calls WHERE arrived_at < $1) AS calls,
                       (SELECT count(*) FROM call_events WHERE call_sid IN ({old})) AS events,
                       (SELECT count(*) FROM offers WHERE for_call_sid IN ({old})) AS offers""",
            cutoff)
        assert row is not None
        return Purged(row["calls"], row["events"], row["offers"])
    events = await conn.execute(f"DELETE FROM call_events WHERE call_sid IN ({old})", cutoff)
    offers = await conn.execute(f"DELETE FROM offers WHERE for_call_sid IN ({old})", cutoff)
    calls = await conn.execute("DELETE FROM calls WHERE arrived_at < $1", cutoff)
    return Purged(_count(calls), _count(events), _count(offers))


async def purge(pool: asyncpg.Pool, now: datetime, days: int, *, dry_run: bool = False) -> Purged:
    """Delete the calls that arrived more than `days` ago, with their events and offers."""
    async with pool.acquire() as conn, conn.transaction():
        return await _purge(conn, now - timedelta(days=days), dry_run)


async def purge_if_due(pool: asyncpg.Pool, now: datetime, days: int) -> Purged | None:
    """Purge if no instance did in the last day; None when not due or another one is at it."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", PURGE_LOCK_KEY):
            return None
        last = await conn.fetchval(
            "SELECT last_run FROM maintenance_runs WHERE job = $1", PURGE_JOB)
        if last is not None and now - last < timedelta(days=1):
            return None
        purged = await _purge(conn, now - timedelta(days=days), dry_run=False)
        await conn.execute(
            """INSERT INTO maintenance_runs (job, last_run) VALUES ($1, $2)
               ON CONFLICT (job) DO UPDATE SET last_run = EXCLUDED.last_run""", PURGE_JOB, now)
        return purged
