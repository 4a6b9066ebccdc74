"""Twilio's queues as the simulator keeps them: named, created on first use, FIFO."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ivr.clock import Wake
from ivr.simulator.http import new_sid
from ivr.simulator.twiml_check import Verb

if TYPE_CHECKING:
    from ivr.simulator.caller import CallerLeg


@dataclass
class Member:
    """A caller waiting in a queue."""

    leg: CallerLeg
    entered: float
    wake: Wake = field(default_factory=Wake)
    talk_seconds: float | None = None
    agent: str | None = None
    welcome: list[Verb] = field(default_factory=list)
    # The agent's talk is shorter than the caller's: the agent hangs up first.
    agent_ends: bool = False
    # A REST redirect (transfer) ends the conversation on both legs at once.
    caller_cut: Wake = field(default_factory=Wake)
    agent_cut: Wake = field(default_factory=Wake)
    # Taken off the queue by an agent's <Dial><Queue>: the hold stops at once, as on Twilio.
    dequeued: bool = False


class Queues:
    """Every queue of the account, by name, with the QueueSid Twilio gives each."""

    def __init__(self) -> None:
        self.members: dict[str, deque[Member]] = {}
        self.sids: dict[str, str] = {}
        # Agents' <Dial><Queue> waiting on an empty queue: woken the moment a caller joins.
        self.waiters: dict[str, list[Wake]] = {}

    def join(self, name: str, member: Member) -> bool:
        """A caller joins a queue; True when an agent was already waiting on it."""
        self.get(name).append(member)
        waiting = self.waiters.pop(name, [])
        for wake in waiting:
            wake.fire()
        return bool(waiting)

    def get(self, name: str) -> deque[Member]:
        """A named queue, created on first use as Twilio does."""
        if name not in self.members:
            self.members[name] = deque()
            self.sids[name] = new_sid("QU")
        return self.members[name]
