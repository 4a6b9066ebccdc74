"""CPU seconds and resident memory of processes, read from /proc (Linux)."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces: the fields start after its closing parenthesis.
    return raw[raw.rindex(")") + 2:].split()


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """User + system CPU of a process, plus its reaped children's when asked."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # Fields 14-17 of stat(5) (utime, stime, cutime, cstime) are 11-14 here.
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


def tree_cpu_seconds(root: int) -> float:
    """CPU of a server and of its live children (PostgreSQL's backends), reaped ones included."""
    total = cpu_seconds(root)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is not None and int(fields[1]) == root:
            total += cpu_seconds(int(entry.name))
    return total


def rss_bytes(pid: int) -> int:
    """Resident set size of a process."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
