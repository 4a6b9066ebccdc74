"""A newcomer's first hour, from the README only: simulations, the walk-through, /metrics."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from tests.cli_run import free_port, ivr, problem_lines, serving, user_env

COUNTED_TABLES = ("calls", "call_events", "agents", "offers", "audit_log",
                  "agent_status_history")


async def _rows(db_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(db_url)
    try:
        return {table: await conn.fetchval(f"SELECT count(*) FROM {table}")
                for table in COUNTED_TABLES}
    finally:
        await conn.close()


async def _leftovers(db_url: str) -> list[str]:
    """Databases or schemas a simulation left behind on the server."""
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("""SELECT datname AS name FROM pg_database
                                   WHERE datname LIKE 'ivr_sim_%'
                                   UNION ALL SELECT nspname FROM pg_namespace
                                   WHERE nspname LIKE 'ivr_sim_%'""")
        return [r["name"] for r in rows]
    finally:
        await conn.close()


async def test_in_process_simulation_leaves_the_real_database_untouched(
        db_url: str, tmp_path: Path) -> None:
    """`ivr simulate --at ... --press 0` runs in a throwaway database, says so, and drops it."""
    env = user_env(tmp_path / "var", DATABASE_URL=db_url)
    done = await ivr("simulate", "--at", "2026-12-02T10:00", "--press", "0", env=env,
                     cwd=tmp_path)
    print(done.stdout, done.stderr)
    assert done.returncode == 0
    assert "simulation in a throwaway database ivr_sim_" in done.stdout
    assert "dropped at the end" in done.stdout
    assert "décroché par client:standardiste-simule" in done.stdout
    assert await _rows(db_url) == dict.fromkeys(COUNTED_TABLES, 0)
    assert await _leftovers(db_url) == []
    assert not (tmp_path / "var" / "dev-secrets.json").exists()


async def test_without_createdb_the_simulation_uses_a_schema_it_drops(
        db_url: str, tmp_path: Path) -> None:
    """A role that may not create databases gets a throwaway schema instead, named and dropped."""
    role = f"ivr_nocreatedb_{os.getpid()}"
    database = urlsplit(db_url).path.lstrip("/")
    admin = await asyncpg.connect(db_url)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw' NOCREATEDB")
        await admin.execute(f"GRANT CREATE ON DATABASE {database} TO {role}")
        parts = urlsplit(db_url)
        host = f"{parts.hostname}:{parts.port}" if parts.hostname else ""
        user_url = urlunsplit(parts._replace(netloc=f"{role}:pw@{host}"))
        env = user_env(tmp_path / "var", DATABASE_URL=user_url)
        done = await ivr("simulate", "--at", "2026-12-02T10:00", "--press", "0", env=env,
                         cwd=tmp_path)
        print(done.stdout, done.stderr)
        assert done.returncode == 0
        assert "simulation in a throwaway schema ivr_sim_" in done.stdout
        assert "décroché par client:standardiste-simule" in done.stdout
        assert await _rows(db_url) == dict.fromkeys(COUNTED_TABLES, 0)
        assert await _leftovers(db_url) == []
    finally:
        await admin.execute(f"REVOKE ALL ON DATABASE {database} FROM {role}")
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


async def test_flags_that_cannot_apply_are_refused_in_one_line(tmp_path: Path) -> None:
    """--at with --url, and --press when the switchboard is closed, stop with one line."""
    env = user_env(tmp_path / "var", DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    remote = await ivr("simulate", "--url", "http://127.0.0.1:1", "--at", "2026-12-02T10:00",
                       env=env, cwd=tmp_path)
    assert remote.returncode == 2
    assert remote.stderr.splitlines() == [
        "ivr: --at applies only in-process: the server at --url keeps its own clock (outside "
        "opening hours, start it with `ivr serve --dev --open`)"]
    closed = await ivr("simulate", "--at", "2026-12-25T10:00", "--press", "2", env=env,
                       cwd=tmp_path)
    assert closed.returncode == 2
    assert closed.stderr.splitlines() == [
        "ivr: --press 2 cannot apply: the switchboard is closed at 2026-12-25 10:00 (holiday), "
        "the call ends on the closed message"]


async def test_a_dead_url_is_one_line(tmp_path: Path) -> None:
    """`ivr simulate --url` at a port where nothing listens names the URL and the cause."""
    port = free_port()
    done = await ivr("simulate", "--url", f"http://127.0.0.1:{port}", "--press", "2",
                     env=user_env(tmp_path / "var"), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"ivr: no server answers at --url http://127.0.0.1:{port}: connection refused (is the "
        "server running, on that host and port?)"]


async def test_walk_through_a_call_answered_by_a_simulated_standardist(
        db_url: str, tmp_path: Path) -> None:
    """The README walk-through: dev server, one standardist, a call answered, seen in /metrics."""
    port = free_port()
    env = user_env(tmp_path / "var", DATABASE_URL=db_url,
                   TWILIO_API_BASE_URL=f"http://127.0.0.1:{free_port()}")
    async with serving(env, tmp_path, port, "--dev", "--open") as server:
        assert server.stdout is not None
        printed = [server.stdout.readline() for _ in range(6)]
        assert any("TWILIO_AUTH_TOKEN=" in line for line in printed)
        assert any(line.startswith("serving ") and "(open at every hour: --open)" in line
                   for line in printed)
        for command in (("agents", "add", "Claire", "+33600000001", "--services",
                         "immigration,reception"), ("agents", "status", "1", "available")):
            done = await ivr(*command, env=env, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
        call = await ivr("simulate", "--url", f"http://127.0.0.1:{port}", "--press", "2",
                         "--agent-after", "1", "--talk", "1", env=env, cwd=tmp_path)
        print(call.stdout, call.stderr)
        assert call.returncode == 0
        assert "standing in for Twilio's REST API" in call.stdout
        assert "👤 décroché par +33600000001" in call.stdout
        assert "queue result: bridged" in call.stdout
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}/metrics") as response:
            metrics = await response.text()
    assert 'ivr_calls_total{outcome="answered",service="immigration"} 1.0' in metrics
    assert 'ivr_offers_total{result="answered",service="immigration"} 1.0' in metrics


async def test_simulate_fails_when_a_webhook_answered_its_fallback(
        db_url: str, tmp_path: Path) -> None:
    """A webhook that failed inside the server makes `ivr simulate --url` exit non-zero."""
    port = free_port()
    env = user_env(tmp_path / "var", DATABASE_URL=db_url,
                   TWILIO_API_BASE_URL=f"http://127.0.0.1:{free_port()}")
    async with serving(env, tmp_path, port, "--dev", "--open"):
        conn = await asyncpg.connect(db_url)
        try:
            await conn.execute("ALTER TABLE calls RENAME TO calls_elsewhere")
        finally:
            await conn.close()
        call = await ivr("simulate", "--url", f"http://127.0.0.1:{port}", "--press", "2",
                         env=env, cwd=tmp_path)
    print(call.stdout, call.stderr)
    assert call.returncode == 1
    assert "answered the fallback TwiML" in call.stderr


def test_interactive_simulation_shows_the_menu_before_asking(db_url: str,
                                                               tmp_path: Path) -> None:
    """At the keyboard, the menu's text is printed before the prompt asks for keys."""
    env = user_env(tmp_path / "var", DATABASE_URL=db_url)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "ivr", "simulate", "--at", "2026-12-02T10:00"], env=env,
        cwd=tmp_path, stdin=follower, stdout=follower, stderr=subprocess.DEVNULL)
    os.close(follower)
    seen, answered = b"", False
    deadline = time.monotonic() + 90  # bounded: never wait on a silent terminal for ever
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(leader, 4096)
                except OSError:  # the terminal closed: the command ended
                    break
            if b"Vos touches" in seen and not answered:
                os.write(leader, b"0\n")
                answered = True
            if not ready and process.poll() is not None:
                break
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        os.close(leader)
    text = seen.decode(errors="replace")
    before_prompt = text.split("Vos touches", 1)[0]
    assert "🔊 Autre demande, tapez 0." in before_prompt  # the menu's last line (flows/loire.yaml)
    assert "décroché par client:standardiste-simule" in text
    assert process.returncode == 0


async def test_an_answer_no_prompt_asked_for_is_refused(db_url: str, tmp_path: Path) -> None:
    """A second --press after the caller was routed is reported unused, and the exit is 2."""
    env = user_env(tmp_path / "var", DATABASE_URL=db_url)
    done = await ivr("simulate", "--at", "2026-12-02T10:00", "--press", "2", "--press", "5",
                     env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert "décroché par client:standardiste-simule" in done.stdout
    assert problem_lines(done.stderr) == [
        "ivr: --press 5 not used: the call ended before a prompt asked for it"]
