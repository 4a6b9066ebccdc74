"""Opening hours in Europe/Paris: weekdays, holidays, closures and the clock-change days."""

from __future__ import annotations

import pytest

from ivr.flow.hours import closed_reason, french_days, upcoming_closures
from ivr.flow.loader import parse_flow
from ivr.flow.model import Flow
from tests.conftest import paris


@pytest.mark.parametrize(("moment", "expected"), [
    ("2026-11-25T10:00", None),            # Wednesday morning
    ("2026-11-25T08:00", None),            # opening minute
    ("2026-11-25T18:59:59", None),         # last second
    ("2026-11-25T19:00:00", "hours"),      # closing time is closed
    ("2026-11-25T07:59", "hours"),
    ("2026-11-29T10:00", "hours"),         # Sunday
    ("2026-11-28T10:00", "hours"),         # Saturday
    ("2026-12-25T10:00", "holiday"),       # Christmas (a Friday)
    ("2026-07-14T10:00", "holiday"),       # national day (a Tuesday)
    ("2026-04-06T10:00", "holiday"),       # Easter Monday 2026
    ("2026-03-29T10:00", "hours"),         # spring clock change is a Sunday
    ("2026-03-30T08:00", None),            # Monday after it: 08:00 local is open
    ("2026-03-30T07:59", "hours"),
    ("2026-10-25T10:00", "hours"),         # autumn clock change Sunday
    ("2026-10-26T08:00", None),            # Monday after it
    ("2026-10-26T18:59", None),
    ("2026-10-26T19:00", "hours"),
])
def test_loire_opening_hours(flow: Flow, moment: str, expected: str | None) -> None:
    """Closed or open at Paris wall-clock times, whatever the UTC offset of the day."""
    assert closed_reason(flow, paris(moment)) == expected


def test_closures_and_subdivision(flow: Flow) -> None:
    """A one-off closure, a yearly one, and Alsace-Moselle's extra holiday on 26 December."""
    import yaml

    from tests.conftest import ROOT

    raw = yaml.safe_load((ROOT / "flows" / "loire.yaml").read_text())
    raw["closures"] = [{"date": "2026-11-26", "label": "pont"}, {"every_year": "12-24"}]
    raw["holidays"] = {"country": "FR", "subdivision": "57"}
    moselle = parse_flow(raw)
    assert closed_reason(moselle, paris("2026-11-26T10:00")) == "closure"
    assert closed_reason(moselle, paris("2027-12-24T10:00")) == "closure"
    assert closed_reason(moselle, paris("2025-12-26T10:00")) == "holiday"
    assert closed_reason(flow, paris("2025-12-26T10:00")) is None


@pytest.mark.parametrize(("moment", "spoken"), [
    ("2026-12-17T10:00", None),                                 # 25 December is 8 days on
    ("2026-12-18T10:00", "le vendredi 25 décembre"),            # exactly 7 days on
    ("2026-12-28T10:00", "le vendredi 1er janvier"),            # New Year's Day, "1er"
    ("2026-11-25T10:00", None),                                 # nothing in the week
    ("2026-07-08T10:00", "le mardi 14 juillet"),
    ("2026-11-06T10:00", "le mercredi 11 novembre"),
    ("2027-05-03T10:00", "le jeudi 6 mai"),    # Ascension; 8 May 2027 is a Saturday: unsaid
])
def test_upcoming_closures_within_seven_days(flow: Flow, moment: str,
                                             spoken: str | None) -> None:
    """Closed opening days of the next 7 days, spoken in French; weekends are not announced."""
    days = upcoming_closures(flow, paris(moment))
    assert (french_days(days) if days else None) == spoken


def test_closure_days_joined_in_french(flow: Flow) -> None:
    """A closure the day before Christmas is announced with it, joined by "et"."""
    import yaml

    from tests.conftest import ROOT

    raw = yaml.safe_load((ROOT / "flows" / "loire.yaml").read_text())
    raw["closures"] = [{"date": "2026-12-24", "label": "fermeture exceptionnelle"}]
    days = upcoming_closures(parse_flow(raw), paris("2026-12-21T10:00"))
    assert french_days(days) == "le jeudi 24 décembre et le vendredi 25 décembre"
