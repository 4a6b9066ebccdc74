"""Whether the waitUrl offers a callback: threshold, a callable number, time left to honour it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from ivr.callbacks.numbers import callable_from
from ivr.flow.hours import closed_reason
from ivr.flow.model import Flow, Prompt
from ivr.store import callbacks as store
from ivr.store import calls
from ivr.views.context import Context

# Without answered calls in the last hour, a turn is reckoned to take this long.
DEFAULT_TURN_SECONDS = 60.0
# The standardist's call, the caller's phone ringing and the hand-over, on top of the wait.
PLACING_SECONDS = 120.0


@dataclass(frozen=True)
class Round:
    """The waitUrl round's callback part: the action of its <Gather>, the offer if spoken now."""

    action_url: str
    offer: Prompt | None


async def expected_seconds(ctx: Context, service: str, since: datetime, now: datetime) -> float:
    """How long until the callback's turn: the recent average wait times those ahead."""
    average = await calls.recent_average_wait(ctx.pool, service, now) or DEFAULT_TURN_SECONDS
    ahead = await calls.queue_position(ctx.pool, service, since) \
        + await store.ahead_of(ctx.pool, service, since)
    return average * max(ahead, 1)


def honoured_in_time(flow: Flow, now: datetime, expected: float, retry_seconds: int) -> bool:
    """True when the switchboard is still open once the callback and its retry are due."""
    latest = now + timedelta(seconds=expected + retry_seconds + PLACING_SECONDS)
    return closed_reason(flow, now) is None and closed_reason(flow, latest) is None


def minutes(flow: Flow, seconds: float) -> str:
    """A wait as the caller's language says it, in whole minutes (at least one)."""
    return flow.minutes(max(1, math.ceil(seconds / 60)))


async def round_for(ctx: Context, *, call_sid: str, service: str, caller: str, since: datetime,
                    now: datetime, flow: Flow, action_url: str,
                    transferred: bool) -> Round | None:
    """The callback offer of this waitUrl round, or None when none may be made."""
    after = ctx.flow.services[service].queue.callback_after_seconds
    waited = (now - since).total_seconds()
    if ctx.settings.callback_key is None or after is None or waited < after or transferred \
            or callable_from(caller) is None:
        return None
    expected = await expected_seconds(ctx, service, since, now)
    if not honoured_in_time(ctx.flow, now, expected, ctx.settings.callback_retry_seconds):
        return None
    # The offer is spoken once per announcement period; the key works all along the round.
    every = ctx.flow.services[service].queue.announce_every_seconds
    slot = int((waited - after) // every)
    spoken = await calls.record_event(ctx.pool, call_sid, f"callback_offer:{service}:{slot}",
                                      "callback_offer", now)
    return Round(action_url, flow.prompt("callback_offer") if spoken else None)


def thresholds(flow: Flow) -> str:
    """The services that offer callbacks and after how long, for `ivr flow check`."""
    offering = [f"{name} after {s.queue.callback_after_seconds} s"
                for name, s in flow.services.items() if s.queue.callback_after_seconds]
    return ", ".join(offering) if offering else "none"
