"""Opening hours: weekly schedule, public holidays and closures, in the flow's time zone."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

from ivr.flow.model import WEEKDAYS, Flow

ClosedReason = Literal["hours", "holiday", "closure"]


@lru_cache(maxsize=64)
def _holiday_calendar(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    calendar = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return frozenset(calendar.keys())


def is_public_holiday(flow: Flow, day: date) -> bool:
    """True when `day` is a public holiday in the flow's country (and subdivision)."""
    return day in _holiday_calendar(flow.holiday_country, flow.holiday_subdivision, day.year)


def closed_reason(flow: Flow, now: datetime) -> ClosedReason | None:
    """Why the switchboard is closed at `now`, or None when it is open."""
    local = now.astimezone(ZoneInfo(flow.timezone))
    today = local.date()
    if any(closure.matches(today) for closure in flow.closures):
        return "closure"
    if is_public_holiday(flow, today):
        return "holiday"
    moment = local.time().replace(tzinfo=None)
    ranges = flow.opening_hours[WEEKDAYS[local.weekday()]]
    if any(r.start <= moment < r.end for r in ranges):
        return None
    return "hours"
