"""PostgreSQL advisory lock keys shared by the statements that must not interleave."""

from __future__ import annotations

# Claims of offers, and a caller leaving the queue for a callback: one at a time.
OFFER_LOCK_KEY = 0x1F5_0FFE
