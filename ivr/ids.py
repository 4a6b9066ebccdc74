"""Database ids read from text (a URL, a form, a login): ASCII digits within the column's range."""

from __future__ import annotations

import re

BIGINT_MAX = 2**63 - 1  # PostgreSQL bigint (bigserial ids)
INT_MAX = 2**31 - 1  # PostgreSQL integer (serial ids)
_ID = re.compile(r"[0-9]{1,19}")


def strict_id(raw: str | None, maximum: int = BIGINT_MAX) -> int | None:
    """A database id from text: ASCII digits only, 1..maximum; anything else is None."""
    if raw is None or not _ID.fullmatch(raw):  # not str.isdigit(): "²" is a digit to it
        return None
    value = int(raw)
    return value if 0 < value <= maximum else None
