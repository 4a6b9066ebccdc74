"""Migrations, concurrency of start-up, and data surviving a restart of the embedded server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest

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


@pytest.fixture
def own_dir() -> Iterator[Path]:
    """A folder outside pytest's shared numbered folders, which parallel runs rotate away."""
    with tempfile.TemporaryDirectory(prefix="ivr-embedded-") as folder:
        yield Path(folder)


async def _postmaster(folder: Path) -> int:
    return int((folder / "pgdata" / "postmaster.pid").read_text().splitlines()[0])


async def _gone(pid: int) -> bool:
    """Whether a process ended (zombies count as ended), waiting a bounded time."""
    for _ in range(100):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_clean_stop_after_a_killed_user_stops_the_server(own_dir: Path) -> None:
    """A user of the server that died without stopping it (a SIGKILLed `ivr serve`) is
    forgotten at the next start, so the next clean stop really stops PostgreSQL."""
    first = EmbeddedPostgres(own_dir)
    await asyncio.to_thread(first.start)
    pid = await _postmaster(own_dir)
    dead_user = 2**22 + 12345  # above the usual pid_max: no such process
    handles = own_dir / "pgdata" / ".handle_pids.json"
    handles.write_text(json.dumps([*json.loads(handles.read_text()), dead_user]))
    await asyncio.to_thread(first.stop)
    assert first.alive()  # the wheel keeps it running for the dead user: the old bug
    again = EmbeddedPostgres(own_dir)
    await asyncio.to_thread(again.start)
    assert "forgot 1 server process(es)" in again.last_action
    assert f"reused the server already running on {again.pgdata}" in again.last_action
    await asyncio.to_thread(again.stop)
    assert await _gone(pid)
    assert not (own_dir / "pgdata" / "postmaster.pid").exists()


async def test_killed_postgres_is_recovered_at_next_start(own_dir: Path) -> None:
    """After PostgreSQL is SIGKILLed, its stale PID file is removed, the server starts again
    with its data, and the one line says so."""
    server = EmbeddedPostgres(own_dir)
    url = await asyncio.to_thread(server.start)
    await migrate_url(url)
    conn = await asyncpg.connect(url)
    await conn.execute("INSERT INTO calls (call_sid, arrived_at) VALUES ('CAkept', now())")
    await conn.close()
    pid = await _postmaster(own_dir)
    os.kill(pid, signal.SIGKILL)
    assert await _gone(pid)
    await asyncio.to_thread(server.stop)  # the owner notices nothing is left to stop
    again = EmbeddedPostgres(own_dir)
    url = await asyncio.to_thread(again.start)
    try:
        assert f"removed a stale PID file (pid {pid} is no" in again.last_action
        conn = await asyncpg.connect(url)
        kept = await conn.fetchval("SELECT count(*) FROM calls WHERE call_sid = 'CAkept'")
        await conn.close()
    finally:
        await asyncio.to_thread(again.stop)
    assert kept == 1


async def test_pid_file_naming_a_live_stranger_is_stale(own_dir: Path) -> None:
    """A PID file whose PID now belongs to another process (reused after a reboot or in a
    container) is not taken for a running server: it is removed and PostgreSQL starts."""
    server = EmbeddedPostgres(own_dir)
    await asyncio.to_thread(server.start)
    await asyncio.to_thread(server.stop)
    pgdata = server.pgdata
    (pgdata / "postmaster.pid").write_text(
        f"{os.getpid()}\n{pgdata}\n1700000000\n5432\n{pgdata}\n\n  5432001  0\nready   \n")
    again = EmbeddedPostgres(own_dir)
    url = await asyncio.to_thread(again.start)
    try:
        assert f"stale PID file (pid {os.getpid()} is no" in again.last_action
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()
    finally:
        await asyncio.to_thread(again.stop)


async def test_watchdog_restarts_a_postgres_killed_while_serving(own_dir: Path) -> None:
    """restart_if_dead() starts the server again on the same socket; new connections work."""
    server = EmbeddedPostgres(own_dir)
    url = await asyncio.to_thread(server.start)
    try:
        assert not await asyncio.to_thread(server.restart_if_dead)
        pid = await _postmaster(own_dir)
        os.kill(pid, signal.SIGKILL)
        assert await _gone(pid)
        assert await asyncio.to_thread(server.restart_if_dead)
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()
    finally:
        await asyncio.to_thread(server.stop)
    assert not (own_dir / "pgdata" / "postmaster.pid").exists()


def test_cli_commands_keep_the_embedded_postgres_logs_out_unless_verbose(
        own_dir: Path) -> None:
    """`ivr agents list` prints only its result; `ivr -v agents list` shows the wheel's logs."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "IVR_DATA_DIR": str(own_dir)}
    quiet = subprocess.run([sys.executable, "-m", "ivr", "agents", "list"], env=env,
                           capture_output=True, text=True, timeout=120, check=True)
    assert quiet.stdout == ""
    assert "embedded_postgres" not in quiet.stderr
    assert len(quiet.stderr.splitlines()) <= 1, quiet.stderr
    loud = subprocess.run([sys.executable, "-m", "ivr", "-v", "agents", "list"], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    assert "INFO embedded_postgres" in loud.stderr
    assert "embedded PostgreSQL: started" in loud.stderr
