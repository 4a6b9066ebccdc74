"""Queue wait in rings, against the target ring (design.md, "Words we use").

With ringback, a ring is a ringback cycle the caller heard (`rings_heard`); with hold music
there is no ring to hear, and a ring is a slice of the wait as long as a cycle (`ring_of`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RingPolicy:
    """The ringback cadence and the target: answered before ring `target_ring`."""

    cycle_seconds: float = 5.0
    target_ring: int = 5

    def ring_of(self, wait_seconds: float) -> int:
        """The ring during which a wait of `wait_seconds` ended (the first ring is 1)."""
        return math.floor(max(wait_seconds, 0.0) / self.cycle_seconds) + 1

    def met(self, wait_seconds: float) -> bool:
        """True when a caller answered after this wait was picked up before the target ring."""
        return self.ring_of(wait_seconds) < self.target_ring

    def before_target(self, rings: int) -> bool:
        """True when a pickup during ring `rings` came before the target ring."""
        return rings < self.target_ring


def rings_heard(rounds: Sequence[tuple[float, float]], until: float, cycle: float) -> int:
    """Ring cycles a caller heard before `until`, from the ringback rounds the server answered.

    `rounds` are (answered at, seconds spoken before the clip), in seconds on one clock. A
    round followed by another was heard whole (Twilio asks again only when the clip ends). The
    last one was heard if it began before `until`, allowing for the network: the clip starts a
    response's trip after the answer and the pickup reached us a request's trip after it
    happened, one round trip in all, measured on the call's previous rounds. A caller answered
    before any ring sounds was answered during the first, as with back-to-back cycles.
    """
    shown = sorted(r for r in rounds if r[0] <= until)
    if not shown:
        return 1
    round_trip = 0.0
    for (start, lead), (following, _) in itertools.pairwise(shown):
        round_trip = max(following - start - lead - cycle, 0.0)
    start, lead = shown[-1]
    last = 1 if start + lead + round_trip <= until else 0
    return max(len(shown) - 1 + last, 1)
