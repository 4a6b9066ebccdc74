"""Caller numbers for callbacks: withheld ones, French numbers keyed in, encryption at rest."""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.fernet import Fernet, InvalidToken

# What Twilio sends in From for a withheld number: words, or these reserved pseudo-numbers
# (anonymous, restricted, blocked, unknown, unavailable spelled on a keypad).
WITHHELD_WORDS = frozenset({"", "anonymous", "restricted", "private", "unknown", "unavailable",
                            "blocked", "withheld"})
WITHHELD_NUMBERS = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696",
                              "+86282452253"})
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_FRENCH = re.compile(r"^0[1-9]\d{8}$")


def callable_from(raw: str) -> str | None:
    """The caller's own number when it can be called back (E.164, not withheld), else None."""
    number = raw.strip()
    if number.lower() in WITHHELD_WORDS or number in WITHHELD_NUMBERS:
        return None
    return number if _E164.match(number) else None


def french_number(keyed: str) -> str | None:
    """A French number keyed in (10 digits, 0 then 1-9) as E.164, or None when not valid."""
    digits = keyed.strip().rstrip("#")
    return f"+33{digits[1:]}" if _FRENCH.match(digits) else None


def last_digits(number: str) -> str:
    """The last four digits, spoken in two pairs ("56 78"): enough to recognise one's number."""
    tail = number[-4:]
    return f"{tail[:2]} {tail[2:]}"


def dev_key(hash_key: bytes) -> str:
    """The `--dev` callback key, derived from the dev hash key (never used in production)."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"ivr-callback:" + hash_key).digest()).decode()


class NumberBox:
    """Seals numbers with Fernet (IVR_CALLBACK_KEY) so the database never holds them in clear."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, number: str) -> bytes:
        """The encrypted number, as stored."""
        return self._fernet.encrypt(number.encode())

    def open(self, token: bytes) -> str | None:
        """The number back, or None when the token was sealed with another key."""
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            return None


def valid_key(raw: str) -> str:
    """A Fernet key (32 url-safe base64 bytes), or ValueError."""
    Fernet(raw.encode())
    return raw
