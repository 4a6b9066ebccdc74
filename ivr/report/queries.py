"""The report's figures: aggregate queries over the period's calls (plain SQL, $n params)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import asyncpg

from ivr.flow.model import WEEKDAYS, Flow
from ivr.report.period import Period, open_days

# One row per requested service and one for all of them (GROUPING SETS); rates are
# computed here, NULL when nobody reached a queue. A callback answered is a caller served
# (its wait runs from the first queue entry), a callback failed one left unanswered: the
# console and the recording rules count them the same way.
_SERVICES = """
SELECT requested_service AS service, grouping(requested_service) = 1 AS total,
       count(*) AS calls,
       count(*) FILTER (WHERE queued_at IS NOT NULL) AS queued,
       count(*) FILTER (WHERE served) AS answered,
       count(*) FILTER (WHERE served AND target_met) AS answered_before_target,
       count(*) FILTER (WHERE outcome = 'abandoned') AS abandoned,
       count(*) FILTER (WHERE outcome IN ('unanswered', 'callback_failed')) AS unanswered,
       (count(*) FILTER (WHERE served))::float8
           / nullif(count(*) FILTER (WHERE queued_at IS NOT NULL), 0) AS taux_de_decroche,
       (count(*) FILTER (WHERE served AND target_met))::float8
           / nullif(count(*) FILTER (WHERE queued_at IS NOT NULL), 0) AS share_before_target,
       avg(wait_seconds) FILTER (WHERE served) AS wait_seconds_avg,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY wait_seconds)
           FILTER (WHERE served) AS wait_seconds_p90,
       avg(rings) FILTER (WHERE served)::float8 AS wait_rings_avg,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY rings)
           FILTER (WHERE served) AS wait_rings_p90,
       avg(extract(epoch FROM answered_at - arrived_at))
           FILTER (WHERE served)::float8 AS time_to_human_seconds_avg
FROM (SELECT *, outcome IN ('answered', 'answered_callback') AS served FROM calls) AS calls
WHERE arrived_at >= $1 AND arrived_at < $2 AND requested_service IS NOT NULL
  AND ($3::text IS NULL OR requested_service = $3)
GROUP BY GROUPING SETS ((requested_service), ())
"""

_TOTALS = """
SELECT coalesce(sum(n), 0)::bigint AS calls,
       coalesce(sum(n) FILTER (WHERE outcome = 'menu_hangup'), 0)::bigint AS left_in_menu,
       coalesce(jsonb_object_agg(closed_reason, n)
                    FILTER (WHERE outcome = 'closed' AND closed_reason IS NOT NULL),
                '{}'::jsonb) AS closed
FROM (SELECT outcome, closed_reason, count(*) AS n
      FROM calls
      WHERE arrived_at >= $1 AND arrived_at < $2
        AND ($3::text IS NULL OR requested_service = $3)
      GROUP BY outcome, closed_reason) AS c
"""

# Local hour, ISO weekday and date of each call, counted in one pass.
_SHAPE = """
SELECT grouping(hour) = 0 AS by_hour, grouping(weekday) = 0 AS by_weekday,
       hour, weekday, day, count(*) AS n
FROM (SELECT extract(hour FROM arrived_at AT TIME ZONE $4)::int AS hour,
             extract(isodow FROM arrived_at AT TIME ZONE $4)::int AS weekday,
             (arrived_at AT TIME ZONE $4)::date AS day
      FROM calls
      WHERE arrived_at >= $1 AND arrived_at < $2
        AND ($3::text IS NULL OR requested_service = $3)) AS c
GROUP BY GROUPING SETS ((hour), (weekday), (day))
"""

# Days on which the crisis announcement was on at some moment, with the calls that heard it.
_CRISIS_DAYS = """
WITH changes AS (
    SELECT active, changed_at AS since,
           least(coalesce(lead(changed_at) OVER (ORDER BY changed_at, id), 'infinity'),
                 coalesce(until, 'infinity')) AS until
    FROM crisis_changes),
days AS (
    SELECT d::date AS day, (d::timestamp AT TIME ZONE $3) AS starts,
           ((d + interval '1 day')::timestamp AT TIME ZONE $3) AS ends
    FROM generate_series($4::date, $5::date, interval '1 day') AS d)
SELECT day,
       (SELECT count(*) FROM calls
        WHERE crisis AND arrived_at >= starts AND arrived_at < ends
          AND ($6::text IS NULL OR requested_service = $6)) AS heard
FROM days
WHERE EXISTS (SELECT 1 FROM changes
              WHERE active AND since < ends AND until > starts AND since < $2
                AND until > $1)
ORDER BY day
"""


@dataclass(frozen=True)
class ServiceFigures:
    """One service's figures (or all services together)."""

    calls: int = 0
    queued: int = 0
    answered: int = 0
    answered_before_target: int = 0
    abandoned: int = 0
    unanswered: int = 0
    taux_de_decroche: float | None = None
    share_before_target: float | None = None
    wait_seconds_avg: float | None = None
    wait_seconds_p90: float | None = None
    wait_rings_avg: float | None = None
    wait_rings_p90: int | None = None
    time_to_human_seconds_avg: float | None = None


@dataclass(frozen=True)
class Report:
    """Everything the committee is shown for one period."""

    period: Period
    service: str | None
    open_days: list[date]
    calls: int
    left_in_menu: int
    closed: dict[str, int]
    services: dict[str, ServiceFigures]
    all_services: ServiceFigures
    by_hour: dict[str, int]
    by_weekday: dict[str, int]
    by_day: dict[str, int]
    crisis_days: dict[str, int]
    target_ring: int
    ring_cycle_seconds: float

    @property
    def calls_per_open_day(self) -> float | None:
        """Average calls per open day (None when the period has no open day)."""
        return self.calls / len(self.open_days) if self.open_days else None

    def as_json(self) -> dict[str, Any]:
        """The `--format json` object (rates are fractions, null without a denominator)."""
        return {
            "from": self.period.first.isoformat(), "to": self.period.last.isoformat(),
            "timezone": self.period.timezone, "service": self.service,
            "target_ring": self.target_ring, "ring_cycle_seconds": self.ring_cycle_seconds,
            "open_days": len(self.open_days), "calls": self.calls,
            "calls_per_open_day": self.calls_per_open_day, "closed": self.closed,
            "left_in_menu": self.left_in_menu,
            "services": {name: asdict(f) for name, f in self.services.items()},
            "all_services": asdict(self.all_services),
            "by_hour": self.by_hour, "by_weekday": self.by_weekday, "by_day": self.by_day,
            "crisis_days": self.crisis_days,
        }


async def build(pool: asyncpg.Pool, flow: Flow, period: Period, *, service: str | None = None,
                target_ring: int = 5, ring_cycle_seconds: float = 5.0) -> Report:
    """Run the report's queries for `period` (and one service when given)."""
    start, end, tz = period.start, period.end, period.timezone
    async with pool.acquire() as conn:
        totals = await conn.fetchrow(_TOTALS, start, end, service)
        rows = await conn.fetch(_SERVICES, start, end, service)
        shape = await conn.fetch(_SHAPE, start, end, service, tz)
        crisis = await conn.fetch(_CRISIS_DAYS, start, end, tz, period.first, period.last,
                                  service)
    assert totals is not None
    names = [service] if service else list(flow.services)
    figures = {r["service"]: _figures(r) for r in rows if not r["total"]}
    services = {name: figures.pop(name, ServiceFigures()) for name in names}
    services.update(figures)  # services no longer in the flow still show
    total = next((_figures(r) for r in rows if r["total"]), ServiceFigures())
    by_hour = {f"{r['hour']:02d}": r["n"] for r in sorted(
        (r for r in shape if r["by_hour"]), key=lambda r: r["hour"])}
    by_weekday = {name: 0 for name in WEEKDAYS}
    for r in shape:
        if r["by_weekday"]:
            by_weekday[WEEKDAYS[r["weekday"] - 1]] = r["n"]
    by_day = {day.isoformat(): 0 for day in period.days()}
    for r in shape:
        if not r["by_hour"] and not r["by_weekday"]:
            by_day[r["day"].isoformat()] = r["n"]
    return Report(
        period=period, service=service, open_days=open_days(flow, period),
        calls=totals["calls"], left_in_menu=totals["left_in_menu"],
        closed=dict(sorted(totals["closed"].items())), services=services,
        all_services=total, by_hour=by_hour, by_weekday=by_weekday, by_day=by_day,
        crisis_days={r["day"].isoformat(): r["heard"] for r in crisis},
        target_ring=target_ring, ring_cycle_seconds=ring_cycle_seconds)


def _figures(row: asyncpg.Record) -> ServiceFigures:
    return ServiceFigures(**{k: row[k] for k in ServiceFigures.__dataclass_fields__})
