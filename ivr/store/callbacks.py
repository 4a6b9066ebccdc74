"""Pending callbacks: requested in the wait, placed in the caller's place, erased when done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ivr.rings import RingPolicy
from ivr.store.calls import Ended
from ivr.store.locks import OFFER_LOCK_KEY

Connection = asyncpg.Connection | PoolConnectionProxy
# Tries to reach the caller before the callback is recorded as failed.
MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class Callback:
    """A callback as the handlers see it."""

    id: int
    call_sid: str
    service: str
    language: str
    state: str
    queued_at: datetime
    number_enc: bytes | None
    attempts: int
    offer_id: int | None


@dataclass(frozen=True)
class Due:
    """A waiting callback whose turn may come, by its original queue entry time."""

    id: int
    call_sid: str
    service: str
    queued_at: datetime


_COLUMNS = ("id, call_sid, service, language, state, queued_at, number_enc, attempts, "
            "offer_id")


def _of(row: asyncpg.Record | None) -> Callback | None:
    return Callback(*row.values()) if row is not None else None


async def request(pool: asyncpg.Pool, call_sid: str, service: str, language: str,
                  number_enc: bytes, now: datetime) -> Callback | None:
    """The queued caller pressed 1: their call leaves the queue but keeps its queue entry.

    A repeated request of the same call returns the callback already made. A caller for
    whom a standardist is being rung stays in the queue (None): they are about to be served,
    and leaving would hand that standardist the next caller in their place.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", OFFER_LOCK_KEY)
        queued_at = await conn.fetchval(
            """UPDATE calls SET state = 'callback' WHERE call_sid = $1 AND state = 'queued'
               AND queued_at IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM offers o WHERE o.for_call_sid = $1
                   AND o.state IN ('ringing', 'answered') AND o.picked_call_sid IS NULL)
               RETURNING queued_at""", call_sid)
        if queued_at is not None:
            await conn.execute(
                """INSERT INTO callbacks (call_sid, service, language, queued_at, number_enc,
                                          requested_at)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (call_sid) DO NOTHING""",
                call_sid, service, language, queued_at, number_enc, now)
        return _of(await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM callbacks WHERE call_sid = $1", call_sid))


async def of_call(pool: asyncpg.Pool, call_sid: str) -> Callback | None:
    """The callback of a call, if it asked for one."""
    return _of(await pool.fetchrow(f"SELECT {_COLUMNS} FROM callbacks WHERE call_sid = $1",
                                   call_sid))


async def get(pool: asyncpg.Pool, callback_id: int) -> Callback | None:
    """A callback by id."""
    return _of(await pool.fetchrow(f"SELECT {_COLUMNS} FROM callbacks WHERE id = $1",
                                   callback_id))


async def confirm(pool: asyncpg.Pool, callback_id: int, number_enc: bytes) -> bool:
    """The caller confirmed (or keyed) the number: the callback now waits for its turn."""
    status = await pool.execute(
        """UPDATE callbacks SET state = 'waiting', number_enc = $2
           WHERE id = $1 AND state = 'choosing'""", callback_id, number_enc)
    return status.endswith(" 1")


async def withdraw(pool: asyncpg.Pool, call_sid: str, now: datetime) -> bool:
    """The caller hung up or gave no valid number while choosing: back to a queued call.

    One statement (every call's final status runs it): the call moves only if a callback
    being chosen was withdrawn.
    """
    done = await pool.fetchval(
        """WITH cb AS (UPDATE callbacks SET state = 'canceled', number_enc = NULL, ended_at = $2
                       WHERE call_sid = $1 AND state = 'choosing' RETURNING call_sid)
           UPDATE calls SET state = 'queued' FROM cb
           WHERE calls.call_sid = cb.call_sid AND calls.state = 'callback' RETURNING true""",
        call_sid, now)
    return bool(done)


async def due(conn: Connection, now: datetime, limit: int = 50) -> list[Due]:
    """Waiting callbacks with no try under way (and no retry delay running), oldest first.

    Locked for the claim's transaction; a callback another instance is claiming is skipped.
    """
    rows = await conn.fetch(
        """SELECT cb.id, cb.call_sid, cb.service, cb.queued_at FROM callbacks cb
           WHERE cb.state = 'waiting' AND (cb.next_try_at IS NULL OR cb.next_try_at <= $1)
           AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.id = cb.offer_id
                           AND o.state IN ('ringing', 'answered'))
           ORDER BY cb.queued_at, cb.id LIMIT $2 FOR UPDATE OF cb SKIP LOCKED""", now, limit)
    return [Due(r["id"], r["call_sid"], r["service"], r["queued_at"]) for r in rows]


async def attach_offer(conn: Connection, callback_id: int, offer_id: int) -> None:
    """The standardist being called for this callback's try."""
    await conn.execute("UPDATE callbacks SET offer_id = $2 WHERE id = $1", callback_id, offer_id)


async def reached(pool: asyncpg.Pool, callback_id: int, now: datetime,
                  policy: RingPolicy) -> Ended | None:
    """The caller answered with a standardist on the line: the wait ends; the number goes."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """UPDATE callbacks SET state = 'done', number_enc = NULL, ended_at = $2
               WHERE id = $1 AND state = 'waiting' RETURNING call_sid, queued_at""",
            callback_id, now)
        if row is None:
            return None
        wait = max((now - row["queued_at"]).total_seconds(), 0.0)
        call = await conn.fetchrow(
            """UPDATE calls SET state = 'answered', outcome = 'answered_callback',
                      answered_at = $2, wait_seconds = $3, rings = $4, target_met = $5
               WHERE call_sid = $1 AND outcome IS NULL
               RETURNING COALESCE(requested_service, service, 'none') AS svc, arrived_at""",
            row["call_sid"], now, wait, policy.ring_of(wait), policy.met(wait))
    if call is None:
        return None
    return Ended(call["svc"], "answered_callback", wait, policy.ring_of(wait), policy.met(wait),
                 max((now - call["arrived_at"]).total_seconds(), 0.0))


async def not_reached(pool: asyncpg.Pool, callback_id: int, now: datetime, retry: timedelta,
                      policy: RingPolicy) -> tuple[str, Ended | None]:
    """The caller did not answer: try again after `retry`, or fail after the last try.

    Returns ("retry" | "failed" | "", the call's end when it failed); "" for a repeat.
    """
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """UPDATE callbacks SET attempts = attempts + 1,
                      next_try_at = $2::timestamptz + $3::interval,
                      state = CASE WHEN attempts + 1 >= $4 THEN 'failed' ELSE state END,
                      number_enc = CASE WHEN attempts + 1 >= $4 THEN NULL ELSE number_enc END,
                      ended_at = CASE WHEN attempts + 1 >= $4 THEN $2 END
               WHERE id = $1 AND state = 'waiting' RETURNING state, call_sid, queued_at""",
            callback_id, now, retry, MAX_ATTEMPTS)
        if row is None:
            return "", None
        if row["state"] != "failed":
            return "retry", None
        wait = max((now - row["queued_at"]).total_seconds(), 0.0)
        call = await conn.fetchrow(
            """UPDATE calls SET state = 'ended', outcome = 'callback_failed', wait_seconds = $2,
                      rings = $3, target_met = false, ended_at = COALESCE(ended_at, $4)
               WHERE call_sid = $1 AND outcome IS NULL
               RETURNING COALESCE(requested_service, service, 'none') AS svc""",
            row["call_sid"], wait, policy.ring_of(wait), now)
    if call is None:
        return "failed", None
    return "failed", Ended(call["svc"], "callback_failed", wait, policy.ring_of(wait), False)


async def pending_by_service(pool: asyncpg.Pool,
                             now: datetime) -> dict[str, tuple[int, float]]:
    """Per service: callbacks waiting and the longest of their waits (from the queue entry)."""
    rows = await pool.fetch(
        """SELECT service, count(*) AS n,
                  greatest(max(extract(epoch FROM $1 - queued_at)), 0)::float8 AS longest
           FROM callbacks WHERE state = 'waiting' GROUP BY service""", now)
    return {r["service"]: (r["n"], r["longest"] or 0.0) for r in rows}


async def due_count(pool: asyncpg.Pool, now: datetime) -> int:
    """Callbacks whose turn may have come (the ticker asks for an offer pass when any)."""
    count: int = await pool.fetchval(
        """SELECT count(*) FROM callbacks cb WHERE cb.state = 'waiting'
           AND (cb.next_try_at IS NULL OR cb.next_try_at <= $1)
           AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.id = cb.offer_id
                           AND o.state IN ('ringing', 'answered'))""", now)
    return count


async def ahead_of(pool: asyncpg.Pool, service: str, since: datetime) -> int:
    """Waiting callbacks of a service that queued before `since` (they keep their place)."""
    count: int = await pool.fetchval(
        """SELECT count(*) FROM callbacks WHERE state = 'waiting' AND service = $1
           AND queued_at < $2""", service, since)
    return count
