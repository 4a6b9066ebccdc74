"""The standardists needed per weekday and hour, beside those who were signed in."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from ivr.flow.model import WEEKDAYS, Flow
from ivr.report.period import Period, open_hours
from ivr.staffing.erlang import StaffingError, staff
from ivr.staffing.measured import Measured


@dataclass(frozen=True)
class Slot:
    """One weekday and hour of the plan."""

    weekday: str
    hour: int
    open_days: int
    queued: int
    calls_per_hour: float
    needed: int
    expected_share: float
    signed_in: float
    measured_share: float | None


@dataclass(frozen=True)
class Plan:
    """The whole table with the inputs it was computed from."""

    period: Period
    handle_seconds: float | None
    talk_seconds: float | None
    wrap_up_seconds: float
    patience_seconds: float | None
    model: str
    answer_within: float
    share: float
    slots: list[Slot]

    def as_json(self) -> dict[str, Any]:
        """The `--format json` object."""
        return {"from": self.period.first.isoformat(), "to": self.period.last.isoformat(),
                "handle_seconds": self.handle_seconds, "talk_seconds": self.talk_seconds,
                "wrap_up_seconds": self.wrap_up_seconds,
                "patience_seconds": self.patience_seconds, "model": self.model,
                "answer_within": self.answer_within, "share": self.share,
                "slots": [asdict(s) for s in self.slots]}


def plan(flow: Flow, period: Period, days: list[date], measured: Measured, *,
         wrap_up_seconds: float, answer_within: float, share: float,
         erlang_a: bool = True, handle_seconds: float | None = None) -> Plan:
    """Erlang A (or C when nobody abandoned, or `erlang_a` is off) on each open hour."""
    patience = measured.patience_seconds if erlang_a else None
    talk = measured.talk_seconds
    handle = handle_seconds or (None if talk is None else talk + wrap_up_seconds)
    if handle is None and any(measured.queued.values()):
        raise StaffingError("no answered call to measure the handle time from: "
                            "give --handle-seconds")
    per_weekday = Counter(day.isoweekday() for day in days)
    hours_of = {day.isoweekday(): open_hours(flow, day) for day in days}
    slots = []
    for weekday in sorted(per_weekday):
        for hour in hours_of[weekday]:
            key = (weekday, hour)
            queued = measured.queued.get(key, 0)
            rate = queued / per_weekday[weekday]
            met = measured.met.get(key, 0)
            if handle is None:
                needed, expected = 0, 1.0
            else:
                result = staff(rate, handle, answer_within, share, patience)
                needed, expected = result.agents, result.share_before_target
            slots.append(Slot(
                weekday=WEEKDAYS[weekday - 1], hour=hour, open_days=per_weekday[weekday],
                queued=queued, calls_per_hour=rate, needed=needed, expected_share=expected,
                # Mean agents signed in over that hour of that weekday's open days.
                signed_in=measured.signed_in_seconds.get(key, 0.0) / 3600
                / per_weekday[weekday],
                measured_share=met / queued if queued else None))
    return Plan(period=period, handle_seconds=handle, talk_seconds=talk,
                wrap_up_seconds=wrap_up_seconds, patience_seconds=patience,
                model="erlang-a" if patience is not None else "erlang-c",
                answer_within=answer_within, share=share, slots=slots)
