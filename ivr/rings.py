"""Queue wait in rings, against the target ring (design.md, "Words we use")."""

from __future__ import annotations

import math
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
