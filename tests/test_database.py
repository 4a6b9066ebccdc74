"""Migrations, concurrency of start-up, and data surviving a restart of the embedded server."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg

from ivr.db.embedded import EmbeddedPostgres
from ivr.db.migrate import available_migrations, migrate_url
from tests.conftest import with_database


async def test_migrations_applied_twice_change_nothing(db_url: str) -> None:
    """The template is migrated; running again applies nothing and keeps the schema."""
    assert await migrate_url(db_url) == []
    conn = await asyncpg.connect(db_url)
    try:
        versions = [r["version"] for r in await conn.fetch(
            "SELECT version FROM schema_migrations ORDER BY version")]
    finally:
        await conn.close()
    assert versions == [m.version for m in available_migrations()]


async def test_two_concurrent_migrate_commands_both_succeed(server_url: str) -> None:
    """Two `ivr migrate` processes on an empty database: both exit 0, each file applied once."""
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute("DROP DATABASE IF EXISTS ivr_race")
        await conn.execute("CREATE DATABASE ivr_race")
    finally:
        await conn.close()
    url = with_database(server_url, "ivr_race")
    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "migrate", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE) for _ in range(2)]
    outputs = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = sorted(out.decode().strip() for out, _ in outputs)
    assert said[0].startswith("applied:")
    assert said[1] == "nothing to apply"
    conn = await asyncpg.connect(url)
    try:
        count = await conn.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await conn.close()
    assert count == len(available_migrations())


async def test_data_survives_restart_of_embedded_server(tmp_path: Path) -> None:
    """A row written before stopping the embedded server is there after starting it again."""
    server = EmbeddedPostgres(tmp_path)
    url = await asyncio.to_thread(server.start)
    await migrate_url(url)
    conn = await asyncpg.connect(url)
    await conn.execute("INSERT INTO calls (call_sid, arrived_at) VALUES ('CAkeep', now())")
    await conn.close()
    await asyncio.to_thread(server.stop)
    again = EmbeddedPostgres(tmp_path)
    url = await asyncio.to_thread(again.start)
    try:
        conn = await asyncpg.connect(url)
        kept = await conn.fetchval("SELECT count(*) FROM calls WHERE call_sid = 'CAkeep'")
        await conn.close()
    finally:
        await asyncio.to_thread(again.stop)
    assert kept == 1
