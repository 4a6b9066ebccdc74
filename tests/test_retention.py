"""The retention period: old call records are deleted, by `ivr purge` and once a day."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from ivr.db.pool import create_pool
from ivr.store import retention

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


async def _call(pool: asyncpg.Pool, sid: str, arrived: datetime) -> None:
    await pool.execute(
        """INSERT INTO calls (call_sid, caller_hash, arrived_at, state, outcome)
           VALUES ($1, 'h', $2, 'ended', 'menu_hangup')""", sid, arrived)
    await pool.execute(
        """INSERT INTO call_events (call_sid, event_key, kind, at)
           VALUES ($1, 'arrival', 'arrival', $2)""", sid, arrived)


async def _sids(pool: asyncpg.Pool) -> list[str]:
    return [r["call_sid"] for r in await pool.fetch("SELECT call_sid FROM calls ORDER BY 1")]


async def test_purge_deletes_only_calls_older_than_the_period(pool: asyncpg.Pool) -> None:
    """Calls older than the retention period go with their events and offers; newer stay."""
    await _call(pool, "CAold", NOW - timedelta(days=366))
    await _call(pool, "CAnew", NOW - timedelta(days=364))
    agent = await pool.fetchval(
        """INSERT INTO agents (name, contact, services, updated_at)
           VALUES ('A', '+33477000001', '{reception}', $1) RETURNING id""", NOW)
    await pool.execute(
        """INSERT INTO offers (service, agent_id, for_call_sid, state, created_at)
           VALUES ('reception', $1, 'CAold', 'failed', $2)""", agent, NOW - timedelta(days=366))
    counted = await retention.purge(pool, NOW, 365, dry_run=True)
    assert counted == retention.Purged(calls=1, events=1, offers=1)
    assert await _sids(pool) == ["CAnew", "CAold"]
    purged = await retention.purge(pool, NOW, 365)
    assert purged == retention.Purged(calls=1, events=1, offers=1)
    assert await _sids(pool) == ["CAnew"]
    assert await pool.fetchval("SELECT count(*) FROM call_events") == 1
    assert await pool.fetchval("SELECT count(*) FROM offers") == 0


async def test_daily_purge_runs_once_a_day_whichever_instance_asks(pool: asyncpg.Pool) -> None:
    """The first instance to ask purges; asking again within a day does nothing."""
    await _call(pool, "CAold", NOW - timedelta(days=400))
    first = await retention.purge_if_due(pool, NOW, 365)
    assert first == retention.Purged(calls=1, events=1, offers=0)
    await _call(pool, "CAold2", NOW - timedelta(days=400))
    assert await retention.purge_if_due(pool, NOW + timedelta(hours=23), 365) is None
    assert await _sids(pool) == ["CAold2"]
    later = await retention.purge_if_due(pool, NOW + timedelta(hours=25), 365)
    assert later == retention.Purged(calls=1, events=1, offers=0)


async def test_daily_purge_skips_while_another_instance_holds_the_lock(pool: asyncpg.Pool) -> None:
    """Two instances never purge at once: the lock holder's rival returns without purging."""
    await _call(pool, "CAold", NOW - timedelta(days=400))
    async with pool.acquire() as rival, rival.transaction():
        await rival.execute("SELECT pg_advisory_xact_lock($1)", retention.PURGE_LOCK_KEY)
        assert await retention.purge_if_due(pool, NOW, 365) is None
    assert await _sids(pool) == ["CAold"]


def test_purge_command_deletes_old_calls(db_url: str, tmp_path: Path) -> None:
    """`ivr purge` run against a database deletes what is past IVR_RETENTION_DAYS."""
    async def fill() -> None:
        pool = await create_pool(db_url, max_size=1)
        try:
            await _call(pool, "CAancient", datetime.now(UTC) - timedelta(days=40))
            await _call(pool, "CArecent", datetime.now(UTC) - timedelta(days=2))
        finally:
            await pool.close()

    asyncio.run(fill())
    env = {**os.environ, "DATABASE_URL": db_url, "IVR_RETENTION_DAYS": "30",
           "IVR_DATA_DIR": str(tmp_path)}
    ivr = str(Path(sys.executable).with_name("ivr"))
    dry = subprocess.run([ivr, "purge", "--dry-run"], env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert dry.returncode == 0, dry.stderr
    assert "would delete 1 calls older than 30 days" in dry.stdout
    done = subprocess.run([ivr, "purge"], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "deleted 1 calls older than 30 days (1 events, 0 offers)" in done.stdout
