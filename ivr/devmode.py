"""What `ivr serve --dev` changes so a newcomer can try calls at any hour."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

from ivr.flow.model import WEEKDAYS, Flow, TimeRange


def always_open(flow: Flow) -> Flow:
    """The flow open every day at every hour (public holidays stay closed), without closures."""
    all_day = (TimeRange(time.min, time.max),)
    return replace(flow, opening_hours={day: all_day for day in WEEKDAYS}, closures=())
