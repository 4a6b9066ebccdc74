"""What the period's calls and agents' status history measured, per weekday and hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

from ivr.report.period import Period

# Calls that reached a queue, per local weekday and hour of arrival (as the report counts
# them), on open days only.
_DEMAND = """
SELECT extract(isodow FROM arrived_at AT TIME ZONE $3)::int AS weekday,
       extract(hour FROM arrived_at AT TIME ZONE $3)::int AS hour,
       count(*) AS queued,
       count(*) FILTER (WHERE outcome = 'answered' AND target_met) AS met
FROM calls
WHERE arrived_at >= $1 AND arrived_at < $2 AND queued_at IS NOT NULL
  AND (arrived_at AT TIME ZONE $3)::date = ANY($4::date[])
GROUP BY 1, 2
"""

# Talk time of answered calls, and exponential patience by maximum likelihood:
# abandons / total time callers spent waiting (answered and unanswered waits are censored).
_TIMES = """
SELECT avg(extract(epoch FROM ended_at - answered_at))
           FILTER (WHERE outcome = 'answered' AND ended_at >= answered_at)::float8 AS talk,
       count(*) FILTER (WHERE outcome = 'abandoned') AS abandoned,
       coalesce(sum(wait_seconds), 0)::float8 AS waited
FROM calls
WHERE arrived_at >= $1 AND arrived_at < $2 AND queued_at IS NOT NULL
"""

# Agent-seconds signed in (any status but offline) within each local hour of the open days,
# summed per weekday and hour: each signed-in span is cut into the hours it covers.
_SIGNED_IN = """
WITH spans AS (
    SELECT status, at AS since,
           coalesce(lead(at) OVER (PARTITION BY agent_id ORDER BY at, id), $2) AS until
    FROM agent_status_history
    WHERE at < $2),
signed AS (
    SELECT greatest(since, $1) AS since, least(until, $2) AS until
    FROM spans WHERE status <> 'offline' AND until > $1),
pieces AS (
    SELECT local,
           extract(epoch FROM least(g.until, (local + interval '1 hour') AT TIME ZONE $3)
                              - greatest(g.since, local AT TIME ZONE $3)) AS seconds
    FROM signed g,
         generate_series(date_trunc('hour', g.since AT TIME ZONE $3), g.until AT TIME ZONE $3,
                         interval '1 hour') AS local
    WHERE local::date = ANY($4::date[]))
SELECT extract(isodow FROM local)::int AS weekday, extract(hour FROM local)::int AS hour,
       sum(seconds)::float8 AS seconds
FROM pieces WHERE seconds > 0 GROUP BY 1, 2
"""


@dataclass(frozen=True)
class Measured:
    """The period's measurements, keyed by (ISO weekday 1-7, local hour)."""

    queued: dict[tuple[int, int], int]
    met: dict[tuple[int, int], int]
    signed_in_seconds: dict[tuple[int, int], float]
    talk_seconds: float | None
    abandoned: int
    waited_seconds: float

    @property
    def patience_seconds(self) -> float | None:
        """Mean patience of exponential abandonment; None when nobody abandoned."""
        return self.waited_seconds / self.abandoned if self.abandoned else None


async def measure(pool: asyncpg.Pool, period: Period, days: list[date]) -> Measured:
    """Run the three queries on the period's open `days`."""
    start, end, tz = period.start, period.end, period.timezone
    async with pool.acquire() as conn:
        demand = await conn.fetch(_DEMAND, start, end, tz, days)
        times = await conn.fetchrow(_TIMES, start, end)
        signed = await conn.fetch(_SIGNED_IN, start, end, tz, days)
    assert times is not None
    return Measured(
        queued={(r["weekday"], r["hour"]): r["queued"] for r in demand},
        met={(r["weekday"], r["hour"]): r["met"] for r in demand},
        signed_in_seconds={(r["weekday"], r["hour"]): r["seconds"] for r in signed},
        talk_seconds=times["talk"], abandoned=times["abandoned"],
        waited_seconds=times["waited"])
