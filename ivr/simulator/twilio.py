"""Twilio's side of calls: places calls, runs TwiML, keeps queues, rings agents.

The parts: `http` (signed requests), `caller` (incoming calls), `agent` (calls placed to
standardists), `queues` (Twilio's queues); this module ties them into one account.
"""

from __future__ import annotations

import asyncio
from collections import deque

import aiohttp

from ivr.rings import RingPolicy
from ivr.simulator.agent import AgentLeg
from ivr.simulator.callbacks import Phone
from ivr.simulator.caller import AskInput, CallerLeg, HungUp
from ivr.simulator.clock import SimClock
from ivr.simulator.http import Disorder, Latency, WebhookClient, new_sid
from ivr.simulator.queues import Member, Queues
from ivr.simulator.script import AgentScript, CallerScript, CallResult

__all__ = ["AskInput", "Disorder", "FakeTwilio", "HungUp", "Latency", "Member"]


class FakeTwilio(WebhookClient):
    """Plays Twilio for one server: places calls, runs TwiML, keeps queues, rings agents."""

    def __init__(self, *, base_url: str, auth_token: str, account_sid: str, clock: SimClock,
                 session: aiohttp.ClientSession, rings: RingPolicy | None = None,
                 status_callback: str | None = "/twilio/status",
                 music_seconds: float = 30.0, latency: Latency | None = None,
                 timeout_slack: float = 0.0, disorder: Disorder | None = None) -> None:
        super().__init__(base_url=base_url, auth_token=auth_token, session=session,
                         music_seconds=music_seconds, clock=clock, latency=latency,
                         disorder=disorder)
        self.account_sid = account_sid
        self.rings = rings or RingPolicy()
        self.status_callback = status_callback
        # Seconds Twilio lets an agent's phone ring past the REST Timeout (documented: up to 5).
        self.timeout_slack = timeout_slack
        self._queues = Queues()
        # The live queues by name and their QueueSids, as Twilio's account holds them.
        self.queues = self._queues.members
        self.queue_sids = self._queues.sids
        self.queue_waiters = self._queues.waiters
        self.agent_scripts: dict[str, AgentScript] = {}
        self.default_agent = AgentScript()
        self.agent_calls: list[dict[str, str]] = []
        self.agent_legs: list[asyncio.Task[None]] = []
        # Each agent leg's status as Twilio's call resource reports it (GET .../Calls/{sid}).
        self.call_statuses: dict[str, str] = {}
        # Callers' legs by CallSid, for REST updates; the admin token agents' transfers use.
        self.callers: dict[str, CallerLeg] = {}
        self.admin_token = ""
        # Phones that callbacks ring, by E.164 number (ivr/simulator/callbacks.py).
        self.phones: dict[str, Phone] = {}

    # -- calls ----------------------------------------------------------------------------
    async def call(self, script: CallerScript, ask: AskInput | None = None, *,
                   after: float = 0.0) -> CallResult:
        """Run one incoming call, dialled `after` seconds from now, to its hang-up."""
        leg = CallerLeg(self, script, ask)
        task = self.clock.spawn(leg.run(after))
        result: CallResult = await task
        return result

    def queue(self, name: str) -> deque[Member]:
        """A named queue, created on first use as Twilio does."""
        return self._queues.get(name)

    def join(self, name: str, member: Member) -> bool:
        """A caller joins a queue; True when an agent was already waiting on it."""
        return self._queues.join(name, member)

    def start_agent_leg(self, params: dict[str, str]) -> str:
        """The REST stand-in asked for a call to an agent: ring them as their script says."""
        sid = new_sid("CA")
        self.agent_calls.append({**params, "Sid": sid})
        script = self.agent_scripts.get(params.get("To", ""), self.default_agent)
        self.agent_legs.append(self.clock.spawn(AgentLeg(self, sid, params, script).run()))
        return sid

    def update_call(self, sid: str, url: str) -> bool:
        """The REST stand-in redirects a call in progress to `url`; False if not in progress."""
        leg = self.callers.get(sid)
        if leg is None or leg.status != "in-progress":
            return False
        leg.redirect = url
        leg.transferred_at = leg.elapsed()
        if leg.talking is not None:
            leg.talking.caller_cut.fire()
            leg.talking.agent_cut.fire()
        return True

    async def settle(self) -> None:
        """Wait for every agent leg and every callback on its way to finish."""
        while any(not t.done() for t in [*self.agent_legs, *self.deliveries]):
            await asyncio.gather(*self.agent_legs, *self.deliveries)

