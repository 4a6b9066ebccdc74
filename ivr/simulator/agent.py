"""A call placed to a standardist: rings, is answered or not, dequeues a caller."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ivr.clock import Wake
from ivr.simulator import callbacks
from ivr.simulator.http import API_VERSION
from ivr.simulator.queues import Member
from ivr.simulator.script import AgentScript
from ivr.simulator.twiml_check import QUEUE_URL_VERBS, Verb
from ivr.simulator.verbs import verb_seconds

# How long after the press-a-key prompt a live standardist presses it.
KEY_AFTER_PROMPT = 0.5

if TYPE_CHECKING:
    from ivr.simulator.twilio import FakeTwilio


class AgentLeg:
    """A call placed to an agent: rings, is answered or not, dequeues a caller."""

    def __init__(self, twilio: FakeTwilio, sid: str, create: dict[str, str],
                 script: AgentScript) -> None:
        self.t = twilio
        self.sid = sid
        self.create = create
        self.script = script
        self.started = twilio.clock.now()
        self.events = set(create.get("StatusCallbackEvent", "").split())
        self.sequence = 0

    def params(self, status: str, **extra: str) -> dict[str, str]:
        """Parameters of the agent leg's requests."""
        return {"CallSid": self.sid, "AccountSid": self.t.account_sid,
                "From": self.create.get("From", ""), "To": self.create.get("To", ""),
                "Caller": self.create.get("From", ""), "Called": self.create.get("To", ""),
                "CallStatus": status, "Direction": "outbound-api", "ApiVersion": API_VERSION,
                **extra}

    async def callback(self, event: str, status: str, **extra: str) -> None:
        """A status callback, when the REST request asked for this event."""
        url = self.create.get("StatusCallback")
        # Twilio's call resource knows the status even when its callback is lost.
        self.t.call_statuses[self.sid] = status
        if event == "completed" and not self.script.final_callback:
            return
        if url and (event in self.events or event == "completed"):
            self.sequence += 1  # Twilio numbers a leg's callbacks from 0, in sending order
            await self.t.notify(url, self.params(status, CallbackSource="call-progress-events",
                                                 SequenceNumber=str(self.sequence - 1),
                                                 **extra))

    async def run(self) -> None:
        """Ring, then answer or not, as the agent's script says."""
        # Twilio may let the phone ring a few seconds past the REST Timeout.
        timeout = float(self.create.get("Timeout", "60")) + self.t.timeout_slack
        await self.callback("initiated", "queued")
        if self.script.behaviour == "busy":
            await self.callback("completed", "busy", CallDuration="0")
            return
        await self.callback("ringing", "ringing")
        answer_after = 0.0 if self.script.behaviour == "voicemail" else self.script.answer_after
        if self.script.behaviour == "never" or answer_after >= timeout:
            await self.t.clock.sleep(timeout)
            await self.callback("completed", "no-answer", CallDuration="0")
            return
        await self.t.clock.sleep(answer_after)
        await self.callback("answered", "in-progress")
        answered = self.t.clock.now()
        url = self.create["Url"]
        _, verbs = await self.t.post(url, self.params("in-progress"))
        await self.execute(verbs, url)
        duration = (self.t.clock.now() - answered).total_seconds()
        await self.callback("completed", "completed", CallDuration=str(int(duration)))

    async def execute(self, verbs: list[Verb], url: str) -> None:
        """Run the leg's TwiML: prompts, <Gather>, <Dial>, <Redirect>, to its end."""
        while True:
            next_doc: tuple[list[Verb], str] | None = None
            for verb in verbs:
                if verb.name in ("Say", "Pause", "Play"):
                    await self.t.clock.sleep(verb_seconds(verb, 1.0))
                elif verb.name == "Gather":
                    next_doc = await self.gather(verb, url)
                    if next_doc is not None:
                        break
                elif verb.name == "Dial":
                    await self.dial(verb, url)
                elif verb.name == "Redirect":
                    target = self.t.url(verb.text, url)
                    next_doc = (await self.t.post(target, self.params("in-progress")))[1], target
                    break
                elif verb.name in ("Hangup", "Reject"):
                    return
            if next_doc is None:
                return
            verbs, url = next_doc

    async def gather(self, verb: Verb, url: str) -> tuple[list[Verb], str] | None:
        """The prompts, then the standardist's keys posted to the action; a voicemail presses
        none: the timeout passes and the TwiML falls through to the next verb, as on Twilio
        (or the action is posted empty, with actionOnEmptyResult)."""
        for child in verb.children:
            await self.t.clock.sleep(verb_seconds(child, 1.0))
        action = self.t.url(verb.attrs.get("action", url), url)
        keys = "" if self.script.behaviour == "voicemail" else self.script.press
        if keys:
            await self.t.clock.sleep(KEY_AFTER_PROMPT * len(keys))
            return (await self.t.post(action, self.params("in-progress", Digits=keys)))[1], action
        await self.t.clock.sleep(float(verb.attrs.get("timeout", "5")))
        if verb.attrs.get("actionOnEmptyResult") == "true":
            return (await self.t.post(action, self.params("in-progress")))[1], action
        return None

    async def transfer(self, caller_sid: str, service: str) -> None:
        """What the standardist's console does: ask the server to transfer the caller."""
        url = f"{self.t.base_url}/admin/calls/{caller_sid}/transfer"
        body = {"service": service, "by": self.create.get("To", "agent")}
        headers = {"Authorization": f"Bearer {self.t.admin_token}"}
        async with self.t.session.post(url, json=body, headers=headers) as response:
            await response.read()

    async def dial(self, verb: Verb, url: str) -> None:
        """<Dial><Queue>: take the queue's first caller, or wait for one until the timeout."""
        if any(n.name == "Number" for n in verb.children):
            await callbacks.dial_number(self, verb, url)  # a callback (issue 16)
            return
        nouns = [n for n in verb.children if n.name == "Queue"]
        if not nouns:
            return
        noun = nouns[0]
        queue = self.t.queue(noun.text)
        # The agent waits on the queue until the timeout; a caller who joins is bridged at
        # once (another agent woken with this one may take them first: wait on).
        deadline = self.t.clock.now().timestamp() + float(verb.attrs.get("timeout", "30"))
        while not queue and self.t.clock.now().timestamp() < deadline:
            wake = Wake()
            self.t.queue_waiters.setdefault(noun.text, []).append(wake)
            await self.t.clock.sleep(deadline - self.t.clock.now().timestamp(), wake)
            if wake in self.t.queue_waiters.get(noun.text, []):
                self.t.queue_waiters[noun.text].remove(wake)
        dial_status, talk = "no-answer", 0.0
        member: Member | None = None
        if queue:
            member = queue.popleft()
            member.dequeued = True
            leg = member.leg
            # What the caller heard up to the dequeue, before the <Queue url> round trip.
            wait = leg.elapsed() - (leg.first_queued or member.entered)
            rings = leg.rings_at_pickup(wait)
            if "url" in noun.attrs:
                target = self.t.url(noun.attrs["url"], url)
                queue_time = str(int(leg.elapsed() - member.entered))
                _, member.welcome = await self.t.post(target, leg.params(
                    QueueSid=self.t.queue_sids[noun.text], QueueTime=queue_time,
                    DequeingCallSid=self.sid), QUEUE_URL_VERBS)
                leg.result.webhooks.append((target.removeprefix(self.t.base_url), 200))
            if leg.result.answered_by is None:  # the first pickup is the one the rings count
                leg.result.queue_wait = wait
                leg.result.rings = rings
                leg.result.answered_by = self.create.get("To")
            else:
                # The second wait runs from the transfer, its announcement included.
                leg.result.second_wait = leg.elapsed() - (leg.transferred_at or member.entered)
            member.agent = self.create.get("To")
            talk = min(self.script.talk_seconds, leg.script.talk_seconds)
            member.talk_seconds = talk
            member.agent_ends = self.script.talk_seconds < leg.script.talk_seconds
            member.wake.fire()
            dial_status = "completed"
            started = self.t.clock.now()
            welcome = sum(verb_seconds(v, 1.0) for v in member.welcome)
            if self.script.transfer_to is not None and self.script.transfer_after < talk:
                await self.t.clock.sleep(welcome + self.script.transfer_after, member.agent_cut)
                await self.transfer(leg.sid, self.script.transfer_to)
            await self.t.clock.sleep(talk + welcome, member.agent_cut)
            talk = (self.t.clock.now() - started).total_seconds()
        if "action" in verb.attrs:
            await self.t.post(self.t.url(verb.attrs["action"], url), self.params(
                "in-progress", DialCallStatus=dial_status,
                DialCallSid=member.leg.sid if member else "",
                DialCallDuration=str(int(talk))))
