"""An incoming call as Twilio runs it: prompts heard, gathers answered, queues waited in."""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ivr.clock import Wake
from ivr.flow.speaking import say_seconds
from ivr.simulator import callbacks
from ivr.simulator.http import API_VERSION, new_sid
from ivr.simulator.queues import Member
from ivr.simulator.script import CallerScript, CallResult, Input, Press, Say, Silence
from ivr.simulator.twiml_check import WAIT_VERBS, TwimlError, Verb
from ivr.simulator.verbs import verb_seconds

if TYPE_CHECKING:
    from ivr.simulator.twilio import FakeTwilio

# The server's one ring cycle: each <Play> of it that begins is a ring the caller hears.
RINGBACK_PATH = "/audio/ringback.wav"

AskInput = Callable[[list[str]], "asyncio.Future[Input] | Input"]


class HungUp(Exception):
    """The caller's patience ran out."""


class CallerLeg:
    """An incoming call: the caller hears prompts, answers gathers, waits in queues."""

    def __init__(self, twilio: FakeTwilio, script: CallerScript, ask: AskInput | None) -> None:
        self.t = twilio
        self.script = script
        self.ask = ask
        self.sid = new_sid("CA")
        self.start = twilio.clock.now()
        self.result = CallResult(self.sid, self.start)
        self.inputs = list(script.inputs)
        self.status = "ringing"
        self.first_queued: float | None = None
        self.redirect: str | None = None
        self.transferred_at: float | None = None
        self.talking: Member | None = None
        self.callback_asked = False
        twilio.callers[self.sid] = self

    def elapsed(self) -> float:
        """Seconds since the call began."""
        return (self.t.clock.now() - self.start).total_seconds()

    def note(self, text: str) -> None:
        """Add a transcript line."""
        self.result.transcript.add(self.elapsed(), text)

    def params(self, **extra: str) -> dict[str, str]:
        """The parameters Twilio sends with every request of this call."""
        s = self.script
        return {"CallSid": self.sid, "AccountSid": self.t.account_sid, "From": s.from_number,
                "To": s.to_number, "Caller": s.from_number, "Called": s.to_number,
                "CallStatus": self.status, "Direction": "inbound", "ApiVersion": API_VERSION,
                **extra}

    async def sleep(self, seconds: float, wake: Wake | None = None) -> bool:
        """Sleep, unless the caller's patience ends first (then HungUp)."""
        limit = self.script.hangup_after
        if limit is not None:
            left = limit - self.elapsed()
            if left <= seconds:
                woken = await self.t.clock.sleep(max(left, 0.0), wake)
                if woken:
                    return True
                raise HungUp
        return await self.t.clock.sleep(seconds, wake)

    async def fetch(self, url: str, allowed: set[str] | None = None,
                    **extra: str) -> list[Verb]:
        """Request a TwiML document for this call, noting it in the transcript."""
        status, verbs = await self.t.post(url, self.params(**extra), allowed)
        path = url.removeprefix(self.t.base_url)
        self.result.webhooks.append((path, status))
        self.note(f"→ POST {path} {status}")
        return verbs

    async def run(self, after: float = 0.0) -> CallResult:
        """The whole call, dialled after a delay."""
        if after > 0:
            await self.t.clock.sleep(after)
        self.start = self.t.clock.now()
        self.result.started_at = self.start
        try:
            self.note(f"appel de {self.script.from_number} vers {self.script.to_number}")
            self.status = "in-progress"
            url = self.t.url("/twilio/voice")
            verbs = await self.fetch(url)
            await self.execute(verbs, url)
        except HungUp:
            self.result.ended_by = "caller"
            self.note("l'appelant raccroche")
        except TwimlError as exc:
            self.result.error = str(exc)
            self.note(f"ERREUR Twilio {exc}")
        self.status = "completed"
        if self.t.status_callback:
            await self.t.notify(self.t.url(self.t.status_callback), self.params(
                CallStatus="completed", CallDuration=str(int(self.elapsed())),
                Timestamp=self.t.clock.now().strftime("%a, %d %b %Y %H:%M:%S +0000"),
                SequenceNumber="0", CallbackSource="call-progress-events"))
        self.note("fin de l'appel")
        return self.result

    async def hear(self, verb: Verb, wake: Wake | None = None) -> bool:
        """Play one Say / Play / Pause to the caller; True if `wake` interrupted it."""
        if verb.name == "Say":
            self.result.heard.append(verb.text)
            self.result.languages.append(verb.attrs.get("language", "en-US"))
            self.note(f"🔊 {verb.text}")
            return await self.sleep(verb_seconds(verb, 0), wake)
        if verb.name == "Play":
            audio = await self.t.audio_seconds(self.t.url(verb.text))
            self.note(f"♪ {verb.text} ({audio:.1f}s)")
            return await self.sleep(verb_seconds(verb, audio), wake)
        return await self.sleep(verb_seconds(verb, 0), wake)

    async def execute(self, verbs: list[Verb], url: str) -> None:
        """Run a document to its end, following Gather, Redirect and Enqueue."""
        while True:
            next_doc: tuple[list[Verb], str] | None = None
            for verb in verbs:
                if verb.name in ("Say", "Play", "Pause"):
                    await self.hear(verb)
                elif verb.name in ("Hangup", "Reject"):
                    self.note(f"Twilio raccroche ({verb.name})")
                    return
                elif verb.name == "Redirect":
                    target = self.t.url(verb.text, url)
                    next_doc = (await self.fetch(target), target)
                    break
                elif verb.name == "Gather":
                    next_doc = await self.gather(verb, url)
                    if next_doc is not None:
                        break
                elif verb.name == "Enqueue":
                    next_doc = await self.enqueue(verb, url)
                    if next_doc is None:
                        return
                    break
                elif verb.name == "Dial":
                    self.note(f"mis en relation avec {verb.text or verb.children[0].text}")
                    await self.sleep(self.script.talk_seconds)
                    self.result.ended_by = "dial"
                    return
                elif verb.name == "Leave":
                    continue  # outside a queue, <Leave> does nothing
            if next_doc is None:
                return
            verbs, url = next_doc

    async def next_input(self, heard: list[str], *, falls_through: bool = False) -> Input:
        """The caller's answer: the script's next one, or the person at the keyboard.

        With `falls_through` (a <Gather> that goes on to the next verb when nothing comes), a
        script with no input left stays silent and listens on, as a real caller would.
        """
        if self.inputs:
            return self.inputs.pop(0)
        if falls_through and self.ask is None:
            return Silence()
        if self.ask is not None:
            answer = self.ask(heard)
            if isinstance(answer, asyncio.Future):
                return await answer
            return answer
        raise HungUp

    async def gather(self, verb: Verb, url: str) -> tuple[list[Verb], str] | None:
        """Play the prompts, take an answer, post it to the action (or fall through).

        As Twilio does: keys, and speech once the caller starts speaking, given while the
        nested <Say>/<Play> run stop them and are taken at once (bargeIn, true by default;
        only the kinds in `input`); the timeout runs from the end of the prompts.
        """
        timeout = float(verb.attrs.get("timeout", "5"))
        answer, heard_here = await self.prompts_until_input(verb)
        if answer is None:
            answer = await self.next_input(
                heard_here, falls_through=verb.attrs.get("actionOnEmptyResult") != "true")
            late = getattr(answer, "at", None)
            if late is not None:
                spoken = await self.spoken_length(verb)
                if late - spoken >= timeout:
                    self.inputs.insert(0, answer)  # too late for this <Gather>
                    answer = Silence()
                else:
                    await self.sleep(max(late - spoken, 0.0))
        action = self.t.url(verb.attrs.get("action", url), url)
        if isinstance(answer, Press):
            self.note(f"☎ l'appelant tape {answer.digits}")
            await self.sleep(0.5 * len(answer.digits))
            return await self.fetch(action, Digits=answer.digits), action
        if isinstance(answer, Say):
            self.note(f"🗣 l'appelant dit « {answer.phrase} » (confiance {answer.confidence})")
            await self.sleep(say_seconds(answer.phrase))
            return await self.fetch(action, SpeechResult=answer.phrase,
                                    Confidence=str(answer.confidence)), action
        assert isinstance(answer, Silence)
        self.note("… l'appelant ne dit rien")
        await self.sleep(timeout)
        if verb.attrs.get("actionOnEmptyResult") == "true":
            return await self.fetch(action), action
        return None

    def _barges_in(self, verb: Verb, answer: Input) -> bool:
        """True when this <Gather> takes this input while its prompts play."""
        kinds = set(verb.attrs.get("input", "dtmf").split())
        wanted = "dtmf" if isinstance(answer, Press) else "speech"
        # With bargeIn="false" the prompts play on to their end: the input counts after them.
        return wanted in kinds and verb.attrs.get("bargeIn", "true") == "true"

    async def spoken_length(self, verb: Verb) -> float:
        """Seconds the <Gather>'s nested prompts take to the end."""
        total = 0.0
        for child in verb.children:
            audio = await self.t.audio_seconds(self.t.url(child.text)) \
                if child.name == "Play" else 0.0
            total += verb_seconds(child, audio)
        return total

    async def prompts_until_input(self, verb: Verb) -> tuple[Input | None, list[str]]:
        """Play the nested prompts, cut by a scripted input timed within them."""
        heard_here: list[str] = []
        upcoming = self.inputs[0] if self.inputs else None
        at = getattr(upcoming, "at", None)
        if upcoming is None or at is None or not self._barges_in(verb, upcoming):
            for child in verb.children:
                if child.name == "Say":
                    heard_here.append(child.text)
                await self.hear(child)
            return None, heard_here
        elapsed = 0.0
        for child in verb.children:
            audio = await self.t.audio_seconds(self.t.url(child.text)) \
                if child.name == "Play" else 0.0
            length = verb_seconds(child, audio)
            if elapsed + length <= at:
                await self.hear(child)
                elapsed += length
                continue
            into = max(at - elapsed, 0.0)
            if child.name == "Say":
                self.result.heard.append(child.text)
                self.result.languages.append(child.attrs.get("language", "en-US"))
                self.note(f"🔊 {child.text}")
            await self.sleep(into)
            self.result.cuts.append((child.text, into))
            self.note(f"✂ coupé après {into:.1f}s")
            return self.inputs.pop(0), heard_here
        return None, heard_here

    async def enqueue(self, verb: Verb, url: str) -> tuple[list[Verb], str] | None:
        """Wait in a queue until dequeued, hung up or told to leave; then the action."""
        name = verb.text
        queue = self.t.queue(name)
        member = Member(self, entered=self.elapsed())
        if self.first_queued is None:
            self.first_queued = member.entered  # the wait runs on through an overflow
            self.result.queued_after = member.entered
        agent_waiting = self.t.join(name, member)
        self.result.queues.append(name)
        self.note(f"en file d'attente {name}")
        if agent_waiting:
            await self.t.clock.sleep(0.0)  # let the waiting agent's <Dial> take the caller first
        wait_url = self.t.url(verb.attrs["waitUrl"], url) if "waitUrl" in verb.attrs else None
        result = "bridged"
        try:
            result = await self.wait_in_queue(member, queue, name, wait_url)
        except HungUp:
            result = "hangup"
            if member in queue:
                queue.remove(member)
        queue_time = str(int(self.elapsed() - member.entered))
        if result == "bridged":
            await self.talk(member)
            if self.redirect is not None:  # transferred: the new TwiML replaces the <Enqueue>
                target, self.redirect = self.redirect, None
                self.result.transfers.append(target)
                return await self.fetch(target), target
        self.result.queue_result = result
        next_doc: tuple[list[Verb], str] | None = None
        # A caller who hangs up on the standardist is gone when Twilio posts the action.
        gone = result == "bridged" and not member.agent_ends
        if "action" in verb.attrs:
            target = self.t.url(verb.attrs["action"], url)
            extra = {"CallStatus": "completed"} if gone else {}
            next_doc = await self.fetch(target, None, QueueResult=result,
                                        QueueSid=self.t.queue_sids[name],
                                        QueueTime=queue_time, **extra), target
        if result == "hangup":
            raise HungUp
        # After the caller hung up the call is over; otherwise the action's document runs on.
        return None if gone else next_doc

    async def wait_in_queue(self, member: Member, queue: deque[Member], name: str,
                            wait_url: str | None) -> str:
        """Run the waitUrl documents until something ends the wait."""
        while True:
            if member.talk_seconds is not None:
                return "bridged"
            if member.dequeued:  # taken by an agent: the <Queue url> round trip is under way
                await self.t.clock.sleep(math.inf, member.wake)
                return "bridged"
            if wait_url is None:
                if await self.sleep(self.t.music_seconds, member.wake):
                    return "bridged"
                continue
            position = queue.index(member) + 1 if member in queue else 1
            verbs = await self.fetch(
                wait_url, WAIT_VERBS, QueuePosition=str(position),
                QueueSid=self.t.queue_sids[name],
                QueueTime=str(int(self.elapsed() - member.entered)),
                AvgQueueTime="0", CurrentQueueSize=str(len(queue)), MaxQueueSize="1000")
            if member.talk_seconds is not None:
                return "bridged"
            self.note_hold(verbs)
            for verb in verbs:
                if member.dequeued:  # the answer came back after an agent took the caller
                    await self.t.clock.sleep(math.inf, member.wake)
                    return "bridged"
                if verb.name == "Play":
                    self.count_ring(verb)
                if verb.name == "Leave":
                    queue.remove(member)
                    self.note("quitte la file (Leave)")
                    return "leave"
                if verb.name == "Hangup":
                    queue.remove(member)
                    raise HungUp
                if verb.name == "Gather":  # the callback offer (ivr/simulator/callbacks.py)
                    ended = await callbacks.wait_gather(self, verb, member, wait_url)
                    if ended is not None:
                        return ended
                if verb.name in ("Say", "Play", "Pause") and await self.hear(verb, member.wake):
                    return "bridged"

    @staticmethod
    def _is_ringback(play: Verb) -> bool:
        return play.text.split("?")[0].endswith(RINGBACK_PATH)

    def note_hold(self, verbs: list[Verb]) -> None:
        """A wait document came: note what it holds the caller with, in the first wait."""
        plays = [v for v in verbs if v.name == "Play"]
        if plays and self.result.answered_by is None:
            self.result.hold = "ringback" if self._is_ringback(plays[-1]) else "music"

    def count_ring(self, play: Verb) -> None:
        """A hold <Play> begins: one more ring heard if it is the ringback, in the first wait."""
        if self.result.answered_by is None and self._is_ringback(play):
            # (a transferred caller's second wait is measured apart)
            self.result.rings_heard += int(play.attrs.get("loop", "1") or 1) or 1

    def rings_at_pickup(self, wait: float) -> int:
        """The ring the caller was answered in: cycles heard (at least the first) or, on hold
        music, the slice of the wait as long as a cycle."""
        if self.result.hold == "music":
            return self.t.rings.ring_of(wait)
        return max(self.result.rings_heard, 1)

    async def talk(self, member: Member) -> None:
        """The conversation with the agent who dequeued this caller."""
        self.talking = member
        for verb in member.welcome:
            await self.hear(verb)
        self.note(f"👤 décroché par {member.agent}")
        cut = await self.sleep(min(member.talk_seconds or 0.0, self.script.talk_seconds),
                               member.caller_cut)
        self.talking = None
        self.result.hung_up_first = "transfer" if cut else \
            "agent" if member.agent_ends else "caller"
        self.note("transfert" if cut else f"fin de la conversation ({self.result.hung_up_first} "
                  "raccroche)")
