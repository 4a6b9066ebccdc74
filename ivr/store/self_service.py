"""Calls answered by the menu itself: a caller who hangs up after an answer is self-served."""

from __future__ import annotations

import asyncpg

# `calls.hang_up` ends a call left 'routed' without a queue as self_served; an answer
# leaves the call there (with no service), and going on to a person brings it back first.


async def answered(pool: asyncpg.Pool, call_sid: str) -> None:
    """The caller heard an answer without a standardist."""
    await pool.execute(
        "UPDATE calls SET state = 'routed' WHERE call_sid = $1 AND state = 'menu'", call_sid)


async def resume(pool: asyncpg.Pool, call_sid: str) -> None:
    """The caller goes on in the menu after an answer: they are in the menu again."""
    await pool.execute(
        """UPDATE calls SET state = 'menu'
           WHERE call_sid = $1 AND state = 'routed' AND service IS NULL""", call_sid)
