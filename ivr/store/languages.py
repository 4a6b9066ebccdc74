"""The language a caller chose in the menu, kept on the call for standardists to see."""

from __future__ import annotations

import asyncpg


async def record(pool: asyncpg.Pool, call_sid: str, language: str) -> None:
    """Note the caller's language (a repeat of the same choice changes nothing)."""
    await pool.execute("UPDATE calls SET language = $2 WHERE call_sid = $1", call_sid, language)
