"""Caller numbers are kept only as keyed hashes."""

from __future__ import annotations

import hashlib
import hmac


def hash_number(key: bytes, number: str | None) -> str | None:
    """Return a keyed HMAC-SHA256 of a phone number, or None when there is none."""
    if not number:
        return None
    return hmac.new(key, number.strip().encode(), hashlib.sha256).hexdigest()
