"""A report's period: local dates, their UTC bounds and the switchboard's open days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ivr.flow.hours import is_public_holiday
from ivr.flow.model import WEEKDAYS, Flow


@dataclass(frozen=True)
class Period:
    """From `first` to `last` included, local dates in the flow's time zone."""

    first: date
    last: date
    timezone: str

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"--to {self.last} is before --from {self.first}")

    @property
    def start(self) -> datetime:
        """Local midnight opening the first day, as an aware datetime."""
        return datetime.combine(self.first, time(), ZoneInfo(self.timezone))

    @property
    def end(self) -> datetime:
        """Local midnight after the last day (excluded)."""
        return datetime.combine(self.last + timedelta(days=1), time(), ZoneInfo(self.timezone))

    def days(self) -> list[date]:
        """Every date of the period."""
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def is_open_day(flow: Flow, day: date) -> bool:
    """True when the switchboard opens on `day`: opening hours, no holiday, no closure."""
    if not flow.opening_hours.get(WEEKDAYS[day.weekday()]):
        return False
    if any(closure.matches(day) for closure in flow.closures):
        return False
    return not is_public_holiday(flow, day)


def open_days(flow: Flow, period: Period) -> list[date]:
    """The period's open days."""
    return [day for day in period.days() if is_open_day(flow, day)]


def open_hours(flow: Flow, day: date) -> list[int]:
    """The local hours of day (0-23) during which the switchboard is open at some point."""
    hours: set[int] = set()
    for r in flow.opening_hours.get(WEEKDAYS[day.weekday()], ()):
        last = r.end.hour - (1 if r.end.minute == 0 and r.end.second == 0 else 0)
        hours.update(range(r.start.hour, last + 1))
    return sorted(hours)
