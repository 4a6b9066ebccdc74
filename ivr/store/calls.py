"""Calls and their event log. Outcomes are set once; a late event cannot move a call back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from ivr.rings import RingPolicy
from ivr.store import ringbacks


@dataclass(frozen=True)
class Ended:
    """A call's outcome, returned only by the write that set it (so it is counted once)."""

    service: str
    outcome: str
    wait_seconds: float | None = None
    rings: int | None = None
    target_met: bool | None = None
    time_to_human: float | None = None


_RECORD_EVENT = """
    WITH call AS (
        INSERT INTO calls (call_sid, caller_hash, called, arrived_at) VALUES ($1, $6, $7, $4)
        ON CONFLICT (call_sid) DO NOTHING)
    INSERT INTO call_events (call_sid, event_key, kind, at, detail)
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (call_sid, event_key) DO NOTHING"""


async def record_event(pool: asyncpg.Pool, call_sid: str, key: str, kind: str, now: datetime,
                       detail: dict[str, Any] | None = None, *, caller_hash: str | None = None,
                       called: str | None = None) -> bool:
    """Append one event (creating the call if unknown); False when the key was already stored.

    One statement, so one round trip: the call's row and the event are written together
    (the foreign key is checked at the end of the statement, after the CTE's insert).
    """
    status = await pool.execute(_RECORD_EVENT, call_sid, key, kind, now, detail or {},
                                caller_hash, called)
    return status.endswith(" 1")


async def mark_crisis(pool: asyncpg.Pool, call_sid: str) -> None:
    """Note that the caller heard the crisis announcement."""
    await pool.execute("UPDATE calls SET crisis = true WHERE call_sid = $1", call_sid)


async def close_as(pool: asyncpg.Pool, call_sid: str, outcome: str, now: datetime,
                   closed_reason: str | None = None) -> Ended | None:
    """End a call with an outcome that has no wait (closed, unanswered at once)."""
    row = await pool.fetchrow(
        """UPDATE calls SET outcome = $2, state = 'ended', closed_reason = $3,
                  ended_at = COALESCE(ended_at, $4)
           WHERE call_sid = $1 AND outcome IS NULL
           RETURNING COALESCE(requested_service, 'none') AS service""",
        call_sid, outcome, closed_reason, now)
    return Ended(row["service"], outcome) if row else None


async def route_to(pool: asyncpg.Pool, call_sid: str, service: str, now: datetime) -> None:
    """The menu sent the caller to a service: the server answers <Enqueue>, so the caller
    is queued (and their wait runs) from now, even if an agent's leg takes them before
    their first waitUrl."""
    await pool.execute(
        """UPDATE calls SET state = 'queued', service = $2,
                  requested_service = COALESCE(requested_service, $2),
                  queued_at = COALESCE(queued_at, $3)
           WHERE call_sid = $1 AND state IN ('menu', 'routed')""", call_sid, service, now)


async def enter_queue(pool: asyncpg.Pool, call_sid: str, service: str,
                      now: datetime) -> tuple[datetime | None, bool]:
    """A waitUrl request: since when the caller is queued (kept through overflow), and
    whether this is their first waitUrl."""
    row = await pool.fetchrow(
        """UPDATE calls c SET state = 'queued', service = $2,
                  requested_service = COALESCE(c.requested_service, $2),
                  queued_at = COALESCE(c.queued_at, $3), queue_seen_at = $3
           FROM (SELECT call_sid, queue_seen_at FROM calls WHERE call_sid = $1
                 FOR UPDATE) old
           WHERE c.call_sid = old.call_sid AND c.state IN ('menu', 'routed', 'queued')
           RETURNING c.queued_at, old.queue_seen_at IS NULL AS first""",
        call_sid, service, now)
    return (row["queued_at"], row["first"]) if row else (None, True)


async def move_queue(pool: asyncpg.Pool, call_sid: str, service: str) -> None:
    """The caller overflows to another service's queue; their wait goes on."""
    await pool.execute("UPDATE calls SET service = $2 WHERE call_sid = $1 AND state = 'queued'",
                       call_sid, service)


async def queue_position(pool: asyncpg.Pool, service: str, since: datetime) -> int:
    """How many callers of a service queued no later than `since` (the caller's position)."""
    position: int = await pool.fetchval(
        """SELECT count(*) FROM calls WHERE state = 'queued' AND service = $1
           AND queued_at <= $2""", service, since)
    return position


async def waiting_by_service(pool: asyncpg.Pool,
                             now: datetime) -> dict[str, tuple[int, float]]:
    """Per service: callers waiting now and the longest current wait in seconds."""
    rows = await pool.fetch(
        """SELECT service, count(*) AS n,
                  greatest(max(extract(epoch FROM $1 - queued_at)), 0)::float8 AS longest
           FROM calls WHERE state = 'queued' GROUP BY service""", now)
    return {r["service"]: (r["n"], r["longest"] or 0.0) for r in rows}


async def recent_average_wait(pool: asyncpg.Pool, service: str, now: datetime) -> float | None:
    """The average wait of the service's calls answered in the last hour."""
    average: float | None = await pool.fetchval(
        """SELECT avg(wait_seconds) FROM calls WHERE outcome = 'answered' AND service = $1
           AND answered_at > $2::timestamptz - interval '1 hour'""", service, now)
    return average


async def overflow(pool: asyncpg.Pool, call_sid: str, reason: str) -> None:
    """Remember why the caller is leaving this queue for another."""
    await pool.execute("UPDATE calls SET overflow_reason = $2 WHERE call_sid = $1",
                       call_sid, reason)


async def answer(pool: asyncpg.Pool, call_sid: str, now: datetime, policy: RingPolicy,
                 queue_time: float | None = None) -> Ended | None:
    """A human picked up: close the wait as answered, in seconds and rings.

    When the pickup comes before the caller's first waitUrl (the queue entry is not known
    yet), Twilio's own QueueTime of the pickup request dates the entry. Two round trips, no
    transaction: the UPDATE only applies if the row is still as it was read.
    """
    for _ in range(3):
        row = await pool.fetchrow(
            """SELECT queued_at, arrived_at, COALESCE(requested_service, service, 'none') AS svc
               FROM calls WHERE call_sid = $1 AND outcome IS NULL""", call_sid)
        if row is None:
            return None
        queued_at = row["queued_at"]
        if queued_at is None and queue_time is None:
            return None
        since = queued_at if queued_at is not None else now - timedelta(seconds=queue_time or 0)
        wait = max((now - since).total_seconds(), 0.0)
        rings = await ringbacks.rings(pool, call_sid, now, policy, wait)
        met = policy.before_target(rings)
        done = await pool.fetchval(
            """UPDATE calls SET state = 'answered', outcome = 'answered', answered_at = $2,
                      wait_seconds = $3, rings = $4, target_met = $5,
                      queued_at = COALESCE(queued_at, $6)
               WHERE call_sid = $1 AND outcome IS NULL AND queued_at IS NOT DISTINCT FROM $7
               RETURNING true""", call_sid, now, wait, rings, met, since, queued_at)
        if done:
            to_human = max((now - row["arrived_at"]).total_seconds(), 0.0)
            return Ended(row["svc"], "answered", wait, rings, met, to_human)
    return None


async def hang_up(pool: asyncpg.Pool, call_sid: str, now: datetime,
                  policy: RingPolicy) -> Ended | None:
    """The call ended: give an outcome to a call that had none yet.

    Two round trips, no transaction: the UPDATE applies only if the state read is still the
    row's (else another webhook moved the call meanwhile, and it is read again).
    """
    for _ in range(3):
        row = await pool.fetchrow(
            """SELECT state, queued_at, COALESCE(requested_service, 'none') AS svc
               FROM calls WHERE call_sid = $1""", call_sid)
        if row is None:
            return None
        state = row["state"]
        # 'callback': the caller hung up after booking a callback; its outcome comes later.
        if state in ("answered", "ended", "callback"):
            await pool.execute(
                "UPDATE calls SET ended_at = COALESCE(ended_at, $2) WHERE call_sid = $1",
                call_sid, now)
            return None
        wait: float | None = None
        rings: int | None = None
        if state == "queued" and row["queued_at"] is not None:
            outcome = "abandoned"
            wait = max((now - row["queued_at"]).total_seconds(), 0.0)
            rings = await ringbacks.rings(pool, call_sid, now, policy, wait)
        else:
            outcome = "self_served" if state == "routed" else "menu_hangup"
        done = await pool.fetchval(
            """UPDATE calls SET state = 'ended', outcome = $3, wait_seconds = $4, rings = $5,
                      target_met = CASE WHEN $3 = 'abandoned' THEN false END,
                      ended_at = COALESCE(ended_at, $2)
               WHERE call_sid = $1 AND state = $6 AND outcome IS NULL
               AND queued_at IS NOT DISTINCT FROM $7 RETURNING true""",
            call_sid, now, outcome, wait, rings, state, row["queued_at"])
        if done:
            return Ended(row["svc"], outcome, wait, rings, False if wait is not None else None)
    return None


async def give_up(pool: asyncpg.Pool, call_sid: str, now: datetime,
                  policy: RingPolicy) -> Ended | None:
    """Nobody could answer before the maximum wait: the call ends as unanswered."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """SELECT queued_at, COALESCE(requested_service, 'none') AS svc FROM calls
               WHERE call_sid = $1 AND outcome IS NULL FOR UPDATE""", call_sid)
        if row is None:
            return None
        wait = max((now - row["queued_at"]).total_seconds(), 0.0) if row["queued_at"] else None
        rings = await ringbacks.rings(conn, call_sid, now, policy, wait) \
            if wait is not None else None
        await conn.execute(
            """UPDATE calls SET state = 'ended', outcome = 'unanswered', wait_seconds = $2,
                      rings = $3, target_met = false, ended_at = COALESCE(ended_at, $4)
               WHERE call_sid = $1""", call_sid, wait, rings, now)
    return Ended(row["svc"], "unanswered", wait, rings, False)


async def path_of(pool: asyncpg.Pool, call_sid: str) -> list[dict[str, Any]]:
    """The call's events in order, to rebuild its path."""
    rows = await pool.fetch(
        "SELECT event_key, kind, at, detail FROM call_events WHERE call_sid = $1 ORDER BY id",
        call_sid)
    return [dict(r) for r in rows]


async def known(pool: asyncpg.Pool, call_sid: str) -> bool:
    """Whether the call's arrival was recorded (status callbacks create no call)."""
    found: bool = await pool.fetchval("SELECT EXISTS (SELECT 1 FROM calls WHERE call_sid = $1)",
                                      call_sid)
    return found
