"""What the console shows live: agents, their offer or call, and today's figures, in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ivr.store import callbacks
from ivr.store.agents import EFFECTIVE_STATUS

# When the status that holds now began: an expired wrap-up became "available" at its end.
_SINCE = ("CASE WHEN status = 'wrap_up' AND wrap_up_until <= $1 "
          "THEN wrap_up_until ELSE updated_at END")


@dataclass(frozen=True)
class AgentRow:
    """One agent as the console lists them."""

    id: int
    name: str
    role: str
    services: tuple[str, ...]
    status: str
    note: str | None
    since: datetime
    wrap_up_until: datetime | None


@dataclass(frozen=True)
class LiveOffer:
    """The offer ringing on an agent's phone, or the call they are on."""

    state: str  # ringing | answered
    service: str
    queued_at: datetime | None
    answered_at: datetime | None
    wait_seconds: float | None
    rings: int | None
    # The language the caller chose in the menu (the flow's code: fr, en, ...).
    language: str = "fr"


@dataclass(frozen=True)
class ServiceFigures:
    """Today's figures of one service, from the calls table."""

    service: str
    calls: int
    ended: int
    answered: int
    before_target: int
    abandoned: int
    unanswered: int
    waiting: int
    longest_wait: float | None


def _agent(row: asyncpg.Record) -> AgentRow:
    return AgentRow(row["id"], row["name"], row["role"], tuple(row["services"]), row["status"],
                    row["note"], row["since"], row["wrap_up_until"])


async def agents_now(pool: asyncpg.Pool, now: datetime) -> list[AgentRow]:
    """Every agent with the status that holds now and since when."""
    rows = await pool.fetch(
        f"""SELECT id, name, role, services, {EFFECTIVE_STATUS} AS status, note,
                   {_SINCE} AS since, wrap_up_until
            FROM agents ORDER BY name, id""", now)
    return [_agent(r) for r in rows]


async def live_offers(pool: asyncpg.Pool) -> dict[int, LiveOffer]:
    """Per agent: the offer ringing or the call in progress, with the caller's wait."""
    rows = await pool.fetch(
        """SELECT o.agent_id, o.state, o.answered_at,
                  COALESCE(c.requested_service, c.service, o.service) AS service,
                  c.queued_at, c.wait_seconds, c.rings, c.language
           FROM offers o
           JOIN calls c ON c.call_sid = COALESCE(o.picked_call_sid, o.for_call_sid)
           WHERE o.state IN ('ringing', 'answered')""")
    return {r["agent_id"]: LiveOffer(r["state"], r["service"], r["queued_at"],
                                     r["answered_at"], r["wait_seconds"], r["rings"],
                                     r["language"])
            for r in rows}


async def has_live_offer(pool: asyncpg.Pool, agent_id: int) -> bool:
    """True while the agent's phone rings with an offer or they are on a call."""
    found: bool = await pool.fetchval(
        """SELECT EXISTS (SELECT 1 FROM offers WHERE agent_id = $1
                          AND state IN ('ringing', 'answered'))""", agent_id)
    return found


async def today_figures(pool: asyncpg.Pool, day_start: datetime,
                        day_end: datetime) -> list[ServiceFigures]:
    """Per requested service, the calls that reached a queue between the two instants.

    A callback answered counts as answered (its wait in rings too), a failed one as unanswered.
    """
    rows = await pool.fetch(
        """SELECT COALESCE(requested_service, service) AS service,
                  count(*) AS calls,
                  count(*) FILTER (WHERE outcome IS NOT NULL) AS ended,
                  count(*) FILTER (WHERE outcome IN ('answered', 'answered_callback'))
                      AS answered,
                  count(*) FILTER (WHERE outcome IN ('answered', 'answered_callback')
                                   AND target_met) AS before_target,
                  count(*) FILTER (WHERE outcome = 'abandoned') AS abandoned,
                  count(*) FILTER (WHERE outcome IN ('unanswered', 'callback_failed'))
                      AS unanswered,
                  count(*) FILTER (WHERE state = 'queued') AS waiting,
                  max(wait_seconds) AS longest_wait
           FROM calls
           WHERE queued_at IS NOT NULL AND arrived_at >= $1 AND arrived_at < $2
           GROUP BY 1 ORDER BY 1""", day_start, day_end)
    return [ServiceFigures(r["service"], r["calls"], r["ended"], r["answered"],
                           r["before_target"], r["abandoned"], r["unanswered"], r["waiting"],
                           r["longest_wait"]) for r in rows]


async def pending_callbacks(pool: asyncpg.Pool, now: datetime) -> dict[str, tuple[int, float]]:
    """Per service: callbacks waiting for their turn and the longest wait among them."""
    return await callbacks.pending_by_service(pool, now)
