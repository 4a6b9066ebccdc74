"""Opening hours: weekly schedule, public holidays and closures, in the flow's time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
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


def _closed_day(flow: Flow, day: date) -> bool:
    """True when a day with opening hours is closed (closure or public holiday)."""
    if not flow.opening_hours[WEEKDAYS[day.weekday()]]:
        return False  # a holiday on a day the switchboard never opens changes nothing
    return any(c.matches(day) for c in flow.closures) or is_public_holiday(flow, day)


def upcoming_closures(flow: Flow, now: datetime, days: int = 7) -> list[date]:
    """Usual opening days closed within the next `days` days (today excluded)."""
    today = now.astimezone(ZoneInfo(flow.timezone)).date()
    ahead = (today + timedelta(days=n) for n in range(1, days + 1))
    return [day for day in ahead if _closed_day(flow, day)]


_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre")


def french_day(day: date) -> str:
    """A date as spoken in French: "le vendredi 25 décembre", "le vendredi 1er janvier"."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"le {_DAYS[day.weekday()]} {number} {_MONTHS[day.month - 1]}"


def french_days(days: list[date]) -> str:
    """Several dates joined as in French: "le jeudi 24 décembre et le vendredi 25 décembre"."""
    spoken = [french_day(d) for d in days]
    return spoken[0] if len(spoken) == 1 else f"{', '.join(spoken[:-1])} et {spoken[-1]}"
