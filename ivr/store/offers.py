"""Offers of waiting callers to agents. One global lock makes claims safe across instances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ivr.store import callbacks
from ivr.store.locks import OFFER_LOCK_KEY

# Twilio requests the waitUrl every cycle (a few seconds of ringback, a hold-music file):
# a caller not seen for this long is gone, whatever their callbacks said.
GONE_AFTER = timedelta(minutes=3)
# Twilio requests the waitUrl as soon as a caller joins the queue: one routed this long ago
# whose first waitUrl never came is not there (the sweep ends them), so is not offered.
FIRST_WAIT_WITHIN = timedelta(seconds=15)
OFFERABLE = "(status = 'available' OR (status = 'wrap_up' AND wrap_up_until <= $1))"


# A pooled connection or a plain one: both run the same queries.
Connection = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class Claim:
    """An agent reserved for the oldest waiting caller who had no offer yet."""

    offer_id: int
    service: str
    contact: str
    for_call_sid: str
    # Set when the claim is for a pending callback (issue 16) rather than a queued caller.
    callback_id: int | None = None


@dataclass(frozen=True)
class OfferState:
    """An offer as its callbacks see it."""

    id: int
    service: str
    agent_id: int
    state: str


async def expire_stale(conn: Connection, now: datetime, after: timedelta) -> int:
    """Ringing offers whose no-answer callback never came: the agent goes offline.

    An offer whose call was never placed (the server died between the claim and the REST
    call) was not the agent's miss: they go back to available.
    """
    rows = await conn.fetch(
        """UPDATE offers SET state = 'expired', result = 'no-callback', ended_at = $1
           WHERE state = 'ringing' AND created_at < $2
           RETURNING agent_id, agent_call_sid IS NOT NULL AS placed""", now, now - after)
    for row in rows:
        await conn.execute(
            """UPDATE agents SET status = CASE WHEN $3 THEN 'offline' ELSE 'available' END,
                      note = CASE WHEN $3 THEN 'pas de réponse (délai dépassé)' END,
                      idle_since = CASE WHEN $3 THEN idle_since ELSE $1 END,
                      updated_at = $1 WHERE id = $2 AND status = 'busy'""",
            now, row["agent_id"], row["placed"])
    return len(rows)


async def end_orphaned(conn: Connection, now: datetime, after: timedelta) -> int:
    """Answered offers whose final callback never came, `after` past the conversation's end
    (the caller's call ended) or past an answer that bridged nobody: the agent is freed."""
    rows = await conn.fetch(
        """UPDATE offers o SET state = 'completed', result = 'no-callback', ended_at = $1
           WHERE o.state = 'answered' AND (
               (o.picked_call_sid IS NULL AND o.answered_at < $2)
               OR EXISTS (SELECT 1 FROM calls c WHERE c.call_sid = o.picked_call_sid
                          AND c.state = 'ended' AND c.ended_at < $2))
           RETURNING agent_id""", now, now - after)
    for row in rows:
        await conn.execute(
            """UPDATE agents SET status = 'available', note = NULL, idle_since = $1,
                      updated_at = $1 WHERE id = $2 AND status = 'busy'""", now, row["agent_id"])
    return len(rows)


async def gone_callers(conn: Connection, now: datetime,
                       after: timedelta) -> list[tuple[str, datetime]]:
    """Queued callers whose waitUrl stopped coming `after` ago, with when it last came."""
    rows = await conn.fetch(
        """SELECT call_sid, COALESCE(queue_seen_at, queued_at) AS seen FROM calls
           WHERE state = 'queued' AND COALESCE(queue_seen_at, queued_at) < $1
           ORDER BY 2 LIMIT 200 FOR UPDATE SKIP LOCKED""", now - after)
    return [(r["call_sid"], r["seen"]) for r in rows]


async def end_for_agent(conn: Connection, agent_id: int, now: datetime) -> int:
    """End every offer still live for an agent (a manager reset them); how many there were."""
    rows = await conn.fetch(
        """UPDATE offers SET state = CASE WHEN state = 'answered' THEN 'completed'
                                     ELSE 'canceled' END,
                  result = 'reset', ended_at = $2
           WHERE agent_id = $1 AND state IN ('ringing', 'answered') RETURNING id""",
        agent_id, now)
    return len(rows)


async def claim(pool: asyncpg.Pool, now: datetime, stale_after: timedelta,
                gone_after: timedelta = GONE_AFTER) -> Claim | None:
    """Reserve the longest-idle free agent for the oldest waiting caller they can serve.

    A caller whose waitUrl stopped coming `gone_after` ago is gone: never offered.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", OFFER_LOCK_KEY)
        await expire_stale(conn, now, stale_after)
        waiting = await conn.fetch(
            """SELECT c.call_sid, c.service, c.queued_at FROM calls c
               WHERE c.state = 'queued'
               AND (c.queue_seen_at >= $1
                    OR (c.queue_seen_at IS NULL AND c.queued_at >= $2)) AND NOT EXISTS (
                   SELECT 1 FROM offers o WHERE o.for_call_sid = c.call_sid
                   AND o.state IN ('ringing', 'answered') AND o.picked_call_sid IS NULL)
               ORDER BY c.queued_at, c.call_sid LIMIT 50""", now - gone_after,
            now - FIRST_WAIT_WITHIN)
        for caller in await _with_callbacks(conn, waiting, now):
            agent = await conn.fetchrow(
                f"""SELECT id, contact FROM agents a
                    WHERE $2 = ANY(services) AND {OFFERABLE} AND removed_at IS NULL
                    AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.agent_id = a.id
                                    AND o.state IN ('ringing', 'answered'))
                    ORDER BY CASE WHEN status = 'wrap_up' THEN wrap_up_until
                                  ELSE idle_since END NULLS FIRST, id
                    LIMIT 1 FOR UPDATE SKIP LOCKED""", now, caller["service"])
            if agent is None:
                continue
            await conn.execute(
                """UPDATE agents SET status = 'busy', wrap_up_until = NULL, note = NULL,
                          updated_at = $1 WHERE id = $2""", now, agent["id"])
            offer_id: int = await conn.fetchval(
                """INSERT INTO offers (service, agent_id, for_call_sid, created_at)
                   VALUES ($1, $2, $3, $4) RETURNING id""",
                caller["service"], agent["id"], caller["call_sid"], now)
            if caller["callback_id"] is not None:
                await callbacks.attach_offer(conn, caller["callback_id"], offer_id)
            return Claim(offer_id, caller["service"], agent["contact"], caller["call_sid"],
                         caller["callback_id"])
    return None


async def _with_callbacks(conn: Connection, waiting: list[asyncpg.Record],
                          now: datetime) -> list[dict[str, Any]]:
    """Queued callers and pending callbacks in one order: a callback keeps its first place."""
    merged: list[dict[str, Any]] = [{**row, "callback_id": None} for row in waiting]
    merged += [{"call_sid": cb.call_sid, "service": cb.service, "queued_at": cb.queued_at,
                "callback_id": cb.id} for cb in await callbacks.due(conn, now)]
    return sorted(merged, key=lambda c: (c["queued_at"] or now, c["call_sid"]))


async def placed(pool: asyncpg.Pool, offer_id: int, agent_call_sid: str) -> None:
    """Remember the agent leg's CallSid."""
    await pool.execute("UPDATE offers SET agent_call_sid = $2 WHERE id = $1",
                       offer_id, agent_call_sid)


async def get(pool: asyncpg.Pool, offer_id: int) -> OfferState | None:
    """An offer by id."""
    row = await pool.fetchrow("SELECT id, service, agent_id, state FROM offers WHERE id = $1",
                              offer_id)
    return OfferState(row["id"], row["service"], row["agent_id"], row["state"]) if row else None


async def answered(pool: asyncpg.Pool, offer_id: int, now: datetime) -> bool:
    """The agent picked up their leg; False if the offer was no longer ringing."""
    status = await pool.execute(
        """UPDATE offers SET state = 'answered', answered_at = $2
           WHERE id = $1 AND state = 'ringing'""", offer_id, now)
    return status.endswith(" 1")


async def picked(pool: asyncpg.Pool, offer_id: int, caller_sid: str) -> None:
    """Which caller the agent's leg dequeued."""
    await pool.execute("UPDATE offers SET picked_call_sid = $2 WHERE id = $1 AND "
                       "picked_call_sid IS NULL", offer_id, caller_sid)


async def finish(pool: asyncpg.Pool, offer_id: int, now: datetime, *, result: str,
                 agent_status: str, note: str | None = None,
                 wrap_up: timedelta = timedelta(0)) -> OfferState | None:
    """End an offer once: the agent goes to wrap-up, available or offline accordingly."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """UPDATE offers SET state = CASE WHEN state = 'answered' THEN 'completed'
                                        ELSE 'failed' END,
                      result = $3, ended_at = $2
               WHERE id = $1 AND state IN ('ringing', 'answered')
               RETURNING id, service, agent_id, state""", offer_id, now, result)
        if row is None:
            return None
        await conn.execute(
            """UPDATE agents SET status = $3::text, note = $4, updated_at = $2,
                      wrap_up_until = CASE WHEN $3::text = 'wrap_up'
                                           THEN $2::timestamptz + $5::interval END,
                      idle_since = CASE WHEN $3::text = 'wrap_up'
                                        THEN $2::timestamptz + $5::interval
                                        WHEN $3::text = 'available' THEN $2
                                        ELSE idle_since END
               WHERE id = $1 AND status = 'busy'""",
            row["agent_id"], now, agent_status, note, wrap_up)
    return OfferState(row["id"], row["service"], row["agent_id"], row["state"])


async def waiting_in(pool: asyncpg.Pool, service: str) -> int:
    """Callers waiting in a service's queue now."""
    count: int = await pool.fetchval(
        "SELECT count(*) FROM calls WHERE state = 'queued' AND service = $1", service)
    return count


async def live_placed(pool: asyncpg.Pool) -> list[tuple[int, str]]:
    """Offers still ringing or answered whose agent call was placed: (id, agent CallSid)."""
    rows = await pool.fetch(
        """SELECT id, agent_call_sid FROM offers WHERE state IN ('ringing', 'answered')
           AND agent_call_sid IS NOT NULL ORDER BY id""")
    return [(r["id"], r["agent_call_sid"]) for r in rows]


async def next_due(pool: asyncpg.Pool, now: datetime, stale_after: timedelta) -> datetime | None:
    """When an agent next becomes offerable by time alone (a wrap-up or an overdue offer)."""
    due: datetime | None = await pool.fetchval(
        """SELECT least((SELECT min(wrap_up_until) FROM agents WHERE status = 'wrap_up'
                         AND removed_at IS NULL AND wrap_up_until > $1),
                        (SELECT min(created_at) + $2::interval FROM offers
                         WHERE state = 'ringing'))""", now, stale_after)
    return due
