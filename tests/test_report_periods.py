"""The report's period in the flow's time zone: day bounds, DST, closures, crisis spans."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import asyncpg
import pytest

from ivr.cli import main
from ivr.flow.model import Closure, Flow
from ivr.report.period import Period, open_days
from ivr.report.queries import build
from ivr.store import crisis
from tests.conftest import paris


async def _call(pool: asyncpg.Pool, sid: str, at: datetime, outcome: str = "self_served",
                closed: str | None = None) -> None:
    service = None if outcome == "closed" else "immigration"
    await pool.execute(
        """INSERT INTO calls (call_sid, arrived_at, requested_service, service, outcome,
                              closed_reason, state)
           VALUES ($1, $2, $3, $3, $4, $5, 'ended')""", sid, at, service, outcome, closed)


async def test_days_are_local_and_hours_follow_daylight_saving(pool: asyncpg.Pool,
                                                               flow: Flow) -> None:
    """Sunday 29 March 2026 (clocks go forward): a 23:30 Paris call is in the period, a
    00:30 call the next day is not, and hours are read on the Paris clock."""
    await _call(pool, "CA-before", paris("2026-03-22T23:30"))
    await _call(pool, "CA-first", paris("2026-03-23T00:10"), "closed", "hours")
    await _call(pool, "CA-summer", paris("2026-03-30T10:15"))
    await _call(pool, "CA-last", paris("2026-03-31T23:30"), "closed", "hours")
    await _call(pool, "CA-after", paris("2026-04-01T00:30"))
    period = Period(date(2026, 3, 23), date(2026, 3, 31), flow.timezone)
    report = (await build(pool, flow, period)).as_json()
    assert report["calls"] == 3
    assert report["closed"] == {"hours": 2}
    assert report["by_hour"] == {"00": 1, "10": 1, "23": 1}
    assert report["by_day"]["2026-03-23"] == 1
    assert report["by_day"]["2026-03-31"] == 1
    assert report["services"]["immigration"]["calls"] == 1


def test_open_days_leave_out_weekends_holidays_and_closures(flow: Flow) -> None:
    """May 2026 in the Loire: 21 weekdays, minus 1, 8, 14 and 25 May (public holidays),
    minus a closure added to the flow."""
    may = Period(date(2026, 5, 1), date(2026, 5, 31), flow.timezone)
    assert len(open_days(flow, may)) == 21 - 4
    closed = replace(flow, closures=(Closure("fermeture exceptionnelle",
                                             on=date(2026, 5, 15)),))
    days = open_days(closed, may)
    assert len(days) == 16
    assert date(2026, 5, 15) not in days


async def test_crisis_days_follow_switches_and_expiry(pool: asyncpg.Pool, flow: Flow) -> None:
    """On Monday 10:00 until Tuesday 09:00 (expires by itself), on again Thursday and off
    Thursday: crisis days are Monday, Tuesday and Thursday, with the callers who heard it."""
    monday = paris("2026-06-01T10:00")
    await crisis.switch(pool, active=True, message="Alerte", until=monday + timedelta(hours=23),
                        now=monday, by="test")
    await crisis.switch(pool, active=True, message="Alerte", until=None,
                        now=paris("2026-06-04T09:00"), by="test")
    await crisis.switch(pool, active=False, message=None, until=None,
                        now=paris("2026-06-04T11:00"), by="test")
    await _call(pool, "CA-heard", paris("2026-06-01T10:30"))
    await pool.execute("UPDATE calls SET crisis = true WHERE call_sid = 'CA-heard'")
    period = Period(date(2026, 6, 1), date(2026, 6, 7), flow.timezone)
    report = (await build(pool, flow, period)).as_json()
    assert report["crisis_days"] == {"2026-06-01": 1, "2026-06-02": 0, "2026-06-04": 0}


def test_reversed_period_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--to before --from: exit status 2 and a sentence, before any database is opened."""
    assert main(["report", "--from", "2026-05-02", "--to", "2026-05-01"]) == 2
    assert "before --from" in capsys.readouterr().err
    assert main(["staffing", "--from", "2026-05-02"]) == 2
    assert "--from and --to" in capsys.readouterr().err
