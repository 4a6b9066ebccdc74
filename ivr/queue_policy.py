"""Queue policy decided from plain values, beside the flow engine: no I/O here.

`views/queue.py` reads what these functions need (how long the caller waited, how many
agents are online, Twilio's QueueResult and QueuePosition) and does what they decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ivr.flow.model import QueuePolicy


@dataclass(frozen=True)
class Leave:
    """The caller leaves this queue (for its overflow, or the end): why."""

    reason: Literal["max_wait", "no_agent"]


@dataclass(frozen=True)
class Stay:
    """The caller keeps waiting; `announce_slot` names the announcement due now, if any."""

    announce_slot: int | None


def on_wait(policy: QueuePolicy, waited: float, agents_online: int) -> Leave | Stay:
    """At a waitUrl: leave past the maximum wait or with nobody online, else wait on."""
    if waited >= policy.max_wait_seconds:
        return Leave("max_wait")
    if agents_online == 0:
        return Leave("no_agent")
    if policy.waiting != "music" or waited < policy.announce_after_seconds:
        return Stay(None)
    return Stay(int((waited - policy.announce_after_seconds) // policy.announce_every_seconds))


def announced_position(twilio_position: float | None, counted: int) -> int:
    """The position to announce: Twilio's own QueuePosition when it sent one (it knows the
    queue's real order, overflow included), else the count from the database."""
    if twilio_position is not None and twilio_position >= 1:
        return int(twilio_position)
    return max(counted, 1)


QueueEnd = Literal["bridged", "in_progress", "abandoned", "moved", "overflow"]

# Every QueueResult Twilio documents for <Enqueue>'s action, and what it is.
QUEUE_RESULTS: dict[str, QueueEnd] = {
    "bridged": "bridged",                    # talked to an agent: the survey may follow
    "bridging-in-process": "in_progress",    # the bridge is being made: nothing to do yet
    "hangup": "abandoned",                   # the caller hung up while waiting
    "redirected": "moved",                   # our REST redirect (a transfer) took the call
    "leave": "overflow",                     # our <Leave>: max wait or nobody online
    "queue-full": "overflow",                # Twilio's queue is full: try the next one
    "error": "overflow",                     # the waitUrl's TwiML failed: do not strand them
    "system-error": "overflow",              # Twilio failed: same
}


def queue_end(result: str) -> QueueEnd:
    """What a QueueResult means; an unknown value is treated as an error (overflow)."""
    return QUEUE_RESULTS.get(result, "overflow")


def overflow_target(policy: QueuePolicy, target_online: int) -> str | None:
    """Where an overflowing caller goes: the policy's target if someone is online there."""
    if policy.overflow_to is not None and target_online > 0:
        return policy.overflow_to
    return None
