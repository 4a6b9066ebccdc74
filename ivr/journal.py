"""The outage journal: webhooks the database could not take, kept on disk until it is back.

One JSON line per webhook (its signed body, path and time), appended and fsync'd before the
caller gets an answer, so a process crash loses nothing that was answered. Replay
(ivr/replay.py) runs each entry once, in order; a cursor file says how far it got, so a crash
during replay starts again after the last entry replayed (and the event keys of
`calls.record_event` make a repeat harmless anyway).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger(__name__)


class Journal:
    """An append-only, bounded, fsync'd file of webhooks waiting for the database."""

    def __init__(self, folder: Path, max_entries: int,
                 registry: CollectorRegistry | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "webhooks.jsonl"
        self._cursor_path = folder / "replayed"
        self.max_entries = max_entries
        self.depth_gauge = Gauge("ivr_journal_depth",
                                 "Webhooks journaled during a database outage, not yet replayed.",
                                 registry=registry)
        self.drops = Counter("ivr_journal_dropped",
                             "Webhooks that could not be journaled (journal full or unwritable).",
                             registry=registry)
        self.replayed = Counter("ivr_journal_replayed",
                                "Journaled webhooks written to the database once it was back.",
                                ["result"], registry=registry)
        for result in ("ok", "failed"):
            self.replayed.labels(result)
        self._end_torn_line()
        self._entries = self._count_lines()
        self._cursor = min(self._read_cursor(), self._entries)
        self.depth_gauge.set(self.depth)
        if self.depth:
            log.warning("journal: %d webhooks from before the restart wait for the database",
                        self.depth)

    @property
    def depth(self) -> int:
        """Entries not replayed yet."""
        return self._entries - self._cursor

    def append(self, entry: dict[str, Any]) -> bool:
        """Write one entry durably; False (and counted as dropped) when full or unwritable."""
        if self.depth >= self.max_entries:
            self.drops.inc()
            log.error("journal full (%d entries): webhook dropped", self.max_entries)
            return False
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        try:
            # Synchronous on purpose: the entry is on disk, in arrival order, before we answer.
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)
                out.flush()
                os.fsync(out.fileno())
        except OSError:
            self.drops.inc()
            log.exception("journal: cannot write %s; webhook dropped", self.path)
            return False
        self._entries += 1
        self.depth_gauge.set(self.depth)
        return True

    def pending(self) -> list[dict[str, Any]]:
        """The entries not replayed yet, oldest first (a torn last line is skipped)."""
        if not self.depth:
            return []
        found: list[dict[str, Any]] = []
        with self.path.open(encoding="utf-8") as source:
            for number, line in enumerate(source):
                if number < self._cursor:
                    continue
                try:
                    found.append(json.loads(line))
                except ValueError:
                    # Only a crash in the middle of a write leaves this: it was never answered.
                    log.error("journal: unreadable line %d skipped", number + 1)
                    found.append({})
        return found

    def done_one(self, ok: bool) -> None:
        """Mark the oldest pending entry replayed; the whole file goes once all are."""
        self._cursor += 1
        self.replayed.labels("ok" if ok else "failed").inc()
        if self._cursor >= self._entries:
            self.path.unlink(missing_ok=True)
            self._cursor_path.unlink(missing_ok=True)
            self._entries = self._cursor = 0
        else:
            temporary = self._cursor_path.with_suffix(".tmp")
            with temporary.open("w") as out:
                out.write(str(self._cursor))
                out.flush()
                os.fsync(out.fileno())
            temporary.replace(self._cursor_path)
        self.depth_gauge.set(self.depth)

    def _end_torn_line(self) -> None:
        """Close a line a crash left unfinished, so the next entry starts a line of its own."""
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb+") as out:
                out.seek(-1, os.SEEK_END)
                if out.read(1) != b"\n":
                    out.write(b"\n")
                    out.flush()
                    os.fsync(out.fileno())

    def _count_lines(self) -> int:
        if not self.path.exists():
            return 0
        with self.path.open("rb") as source:
            return sum(1 for _ in source)

    def _read_cursor(self) -> int:
        try:
            return int(self._cursor_path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0
