"""Synthetic calls written straight into the tables: a year of data for benchmarks and demos.

Not a simulation: no webhooks, only rows shaped like the server's (outcomes, waits in rings,
crisis flags, agents' status history), drawn from a seeded random generator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from ivr.flow.hours import is_public_holiday
from ivr.flow.model import Flow
from ivr.report.period import Period, is_open_day
from ivr.rings import RingPolicy

_SERVICES = (("crisis", 0.3), ("immigration", 0.3), ("road_safety", 0.2),
             ("user_relations", 0.12), ("reception", 0.08))
# Calls per open hour of day, peaking mid-morning and early afternoon (the minutes say 9-11
# and 14-15 for the counter; the switchboard is assumed alike).
_HOURS = {8: 12, 9: 24, 10: 24, 11: 18, 12: 9, 13: 11, 14: 20, 15: 17, 16: 14, 17: 12, 18: 8}
_COLUMNS = ("call_sid", "arrived_at", "state", "requested_service", "service", "queued_at",
            "answered_at", "ended_at", "outcome", "wait_seconds", "rings", "target_met",
            "closed_reason", "crisis")


@dataclass(frozen=True)
class Shape:
    """What the synthetic switchboard looks like."""

    calls_per_open_day: float = 170.0
    mean_wait_seconds: float = 14.0
    mean_patience_seconds: float = 90.0
    max_wait_seconds: float = 120.0
    mean_talk_seconds: float = 150.0
    agents: int = 3
    crisis_days: int = 6


def _local(day: date, seconds: float, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone) + timedelta(seconds=seconds)


def _call(dice: random.Random, sid: str, at: datetime, rings: RingPolicy, shape: Shape,
          crisis: bool) -> tuple[object, ...]:
    service = dice.choices([s for s, _ in _SERVICES], [w for _, w in _SERVICES])[0]
    if dice.random() < 0.02:
        return (sid, at, "ended", None, None, None, None, at + timedelta(seconds=20),
                "menu_hangup", None, None, None, None, crisis)
    queued = at + timedelta(seconds=dice.uniform(35, 70))
    wait = dice.expovariate(1 / shape.mean_wait_seconds)
    patience = dice.expovariate(1 / shape.mean_patience_seconds)
    if patience < min(wait, shape.max_wait_seconds):
        gone = queued + timedelta(seconds=patience)
        return (sid, at, "ended", service, service, queued, None, gone, "abandoned", patience,
                rings.ring_of(patience), False, None, crisis)
    if wait >= shape.max_wait_seconds:
        gone = queued + timedelta(seconds=shape.max_wait_seconds)
        return (sid, at, "ended", service, service, queued, None, gone, "unanswered",
                shape.max_wait_seconds, rings.ring_of(shape.max_wait_seconds), False, None,
                crisis)
    answered = queued + timedelta(seconds=wait)
    ended = answered + timedelta(seconds=dice.expovariate(1 / shape.mean_talk_seconds))
    return (sid, at, "answered", service, service, queued, answered, ended, "answered", wait,
            rings.ring_of(wait), rings.met(wait), None, crisis)


async def fill(pool: asyncpg.Pool, flow: Flow, period: Period, *, seed: int = 14,
               shape: Shape | None = None, rings: RingPolicy | None = None) -> int:
    """Insert the period's synthetic calls, crisis changes and agent statuses; return calls."""
    shape, rings = shape or Shape(), rings or RingPolicy()
    dice = random.Random(seed)
    zone = ZoneInfo(period.timezone)
    total_weight = sum(_HOURS.values())
    open_days = [d for d in period.days() if is_open_day(flow, d)]
    crisis_days = set(dice.sample(open_days, min(shape.crisis_days, len(open_days))))
    calls: list[tuple[object, ...]] = []
    statuses: list[tuple[int, str, datetime]] = []
    changes: list[tuple[bool, str | None, datetime, str]] = []
    for day in period.days():
        if day in open_days:
            crisis = day in crisis_days
            if crisis:
                changes.append((True, "Alerte météo : routes fermées.",
                                _local(day, 8 * 3600, zone), "synthetic"))
                changes.append((False, None, _local(day, 19 * 3600, zone), "synthetic"))
            for hour, weight in _HOURS.items():
                for _ in range(round(dice.gauss(1, 0.15) * shape.calls_per_open_day
                                     * weight / total_weight)):
                    at = _local(day, hour * 3600 + dice.uniform(0, 3600), zone)
                    calls.append(_call(dice, f"SY{len(calls):08d}", at, rings, shape, crisis))
            for agent in range(1, shape.agents + 1):
                lunch: float = 12 * 3600 + agent % 2 * 3600
                for status, seconds in (("available", 8 * 3600), ("offline", lunch),
                                        ("available", lunch + 3600), ("offline", 19 * 3600)):
                    statuses.append((agent, status, _local(day, seconds, zone)))
            closed = [(dice.uniform(6.5, 8) * 3600, "hours") for _ in range(3)]
        else:
            reason = "holiday" if is_public_holiday(flow, day) else "hours"
            closed = [(dice.uniform(8, 18) * 3600, reason) for _ in range(4)]
        for seconds, reason in closed:
            at = _local(day, seconds, zone)
            calls.append((f"SY{len(calls):08d}", at, "ended", None, None, None, None, at,
                          "closed", None, None, None, reason, False))
    async with pool.acquire() as conn, conn.transaction():
        await conn.copy_records_to_table("calls", records=calls, columns=_COLUMNS)
        await conn.copy_records_to_table("agent_status_history", records=statuses,
                                         columns=("agent_id", "status", "at"))
        await conn.copy_records_to_table("crisis_changes", records=changes,
                                         columns=("active", "message", "changed_at",
                                                  "changed_by"))
    return len(calls)
