"""French wording of statuses, durations and rings, shared by pages and live fragments."""

from __future__ import annotations

import math

from ivr.rings import RingPolicy

STATUS_LABELS = {"available": "Disponible", "busy": "Occupé·e (appel)",
                 "wrap_up": "Après-appel", "offline": "Hors ligne"}
BREAK_PREFIX = "Pause : "
ROLE_LABELS = {"agent": "standardiste", "manager": "responsable"}
# The caller's language as standardists read it (codes of the flow's `languages`).
LANGUAGE_LABELS = {"fr": "français", "en": "anglais"}


def language_label(code: str) -> str:
    """The French name of a caller's language."""
    return LANGUAGE_LABELS.get(code, code)


def status_label(status: str, note: str | None) -> str:
    """What a person reads for a status (a break is an offline status with its reason)."""
    if status == "offline" and note and note.startswith(BREAK_PREFIX):
        return f"En pause ({note[len(BREAK_PREFIX):]})"
    return STATUS_LABELS.get(status, status)


def duration(seconds: float) -> str:
    """`45 s`, `3 min 05 s`, `2 h 07 min`."""
    total = max(math.floor(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def ordinal(n: int) -> str:
    """`1re`, `2e`, `5e`."""
    return "1re" if n == 1 else f"{n}e"


def wait_text(seconds: float, policy: RingPolicy) -> str:
    """A wait in seconds and in rings: `12 s (3e sonnerie)`."""
    return f"{duration(seconds)} ({ordinal(policy.ring_of(seconds))} sonnerie)"


def at_risk(seconds: float, policy: RingPolicy) -> bool:
    """The wait reached the ring before the target: the next ring misses it."""
    return policy.ring_of(seconds) >= policy.target_ring - 1


def share(part: int, whole: int) -> str:
    """`83 %`, or a dash when there is nothing to divide."""
    return f"{round(100 * part / whole)} %" if whole else "—"
