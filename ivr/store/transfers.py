"""Transfers of answered callers to another service, and their second wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ivr.rings import RingPolicy


class TransferRefused(Exception):
    """The call cannot be transferred now (over, not answered, or already in a transfer)."""


@dataclass(frozen=True)
class SecondWait:
    """The end of a transfer's second wait, returned only by the write that ended it."""

    from_service: str
    to_service: str
    outcome: str
    wait_seconds: float
    rings: int


async def start(pool: asyncpg.Pool, call_sid: str, to_service: str, by: str,
                now: datetime) -> str:
    """Put an answered caller back in a queue, keeping their first entry; the from service."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """SELECT state, service, ended_at FROM calls WHERE call_sid = $1 FOR UPDATE""",
            call_sid)
        if row is None:
            raise LookupError(call_sid)
        if row["ended_at"] is not None:
            raise TransferRefused("call is over")
        if row["state"] != "answered":
            raise TransferRefused(f"call is {row['state']}, not in conversation")
        if row["service"] == to_service:
            raise TransferRefused(f"call is already with {to_service}")
        # The first pickup's outcome, wait and rings stay as they are: it is the one counted.
        await conn.execute("UPDATE calls SET state = 'queued', service = $2 WHERE call_sid = $1",
                           call_sid, to_service)
        await conn.execute(
            """INSERT INTO transfers (call_sid, from_service, to_service, by_whom, at)
               VALUES ($1, $2, $3, $4, $5)""", call_sid, row["service"], to_service, by, now)
    from_service: str = row["service"]
    return from_service


async def open_since(pool: asyncpg.Pool, call_sid: str) -> datetime | None:
    """When the call's transfer in progress began, if one is."""
    at: datetime | None = await pool.fetchval(
        "SELECT at FROM transfers WHERE call_sid = $1 AND outcome IS NULL", call_sid)
    return at


async def finish(pool: asyncpg.Pool, call_sid: str, now: datetime, policy: RingPolicy, *,
                 outcome: str) -> SecondWait | None:
    """End the second wait once: answered (a human again) or abandoned (the caller left)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """SELECT id, at, from_service, to_service FROM transfers
               WHERE call_sid = $1 AND outcome IS NULL FOR UPDATE""", call_sid)
        if row is None:
            return None
        wait = max((now - row["at"]).total_seconds(), 0.0)
        rings = policy.ring_of(wait)
        await conn.execute(
            """UPDATE transfers SET outcome = $2, ended_at = $3, wait_seconds = $4, rings = $5
               WHERE id = $1""", row["id"], outcome, now, wait, rings)
        await conn.execute(
            "UPDATE calls SET state = $2 WHERE call_sid = $1 AND state = 'queued'",
            call_sid, "answered" if outcome == "answered" else "ended")
    return SecondWait(row["from_service"], row["to_service"], outcome, wait, rings)


async def orientation_by_service(pool: asyncpg.Pool, since: datetime,
                                 until: datetime) -> dict[str, tuple[int, int]]:
    """Per service first answered: answered calls, and those never transferred."""
    rows = await pool.fetch(
        """SELECT COALESCE(requested_service, service) AS svc, count(*) AS answered,
                  count(*) FILTER (WHERE NOT EXISTS (
                      SELECT 1 FROM transfers t WHERE t.call_sid = c.call_sid)) AS kept
           FROM calls c WHERE outcome = 'answered' AND answered_at >= $1 AND answered_at < $2
           GROUP BY 1""", since, until)
    return {r["svc"]: (r["answered"], r["kept"]) for r in rows}


async def cancel(pool: asyncpg.Pool, call_sid: str, from_service: str) -> None:
    """Undo a transfer whose redirect failed: the caller is still with the standardist."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM transfers WHERE call_sid = $1 AND outcome IS NULL",
                           call_sid)
        await conn.execute(
            "UPDATE calls SET state = 'answered', service = $2 WHERE call_sid = $1 "
            "AND state = 'queued'", call_sid, from_service)


async def current_caller(pool: asyncpg.Pool, agent_id: int) -> str | None:
    """The CallSid of the caller an agent is talking to now, if any."""
    sid: str | None = await pool.fetchval(
        """SELECT picked_call_sid FROM offers WHERE agent_id = $1 AND state = 'answered'
           AND picked_call_sid IS NOT NULL""", agent_id)
    return sid
