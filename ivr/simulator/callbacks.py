"""Callbacks as Twilio plays them: the key in the wait, and the caller's phone ringing back.

The caller presses 1 in the wait's <Gather> when their script asks for a callback; the
standardist's <Dial><Number> rings the phone registered for that number, which answers (and
hears the <Number url>'s prompts) or not, as the script says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ivr.simulator.http import API_VERSION, new_sid
from ivr.simulator.queues import Member
from ivr.simulator.script import Press
from ivr.simulator.twiml_check import WAIT_VERBS, Verb
from ivr.simulator.verbs import verb_seconds

if TYPE_CHECKING:
    from ivr.simulator.agent import AgentLeg
    from ivr.simulator.caller import CallerLeg

# What Twilio runs from a <Number url> on the called party before the bridge.
NUMBER_URL_VERBS = {"Play", "Say", "Pause", "Gather", "Hangup", "Redirect"}


@dataclass
class Phone:
    """A phone the simulated Twilio can call back: answers after a delay, or never."""

    answers: bool = True
    answer_after: float = 4.0
    talk_seconds: float = 60.0
    # Each call back: when it rang and whether it was answered; what was heard, in which voice.
    rang: list[tuple[datetime, bool]] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    answered_at: list[datetime] = field(default_factory=list)


def e164(number: str) -> str:
    """A French number as keyed (0612345678) in E.164, as the server stores it."""
    return f"+33{number[1:]}" if number.startswith("0") else number


async def wait_gather(leg: CallerLeg, verb: Verb, member: Member, wait_url: str) -> str | None:
    """A <Gather> in the waitUrl: hear it, press 1 if the caller wants a callback.

    Returns "bridged" (an agent took the caller meanwhile), "leave" (the action's <Leave>),
    or None to go on waiting.
    """
    script = leg.script
    says = [c for c in verb.children if c.name == "Say"]
    for child in verb.children:
        if await leg.hear(child, member.wake):
            return "bridged"
        # The offer is the round's last spoken prompt: the caller presses once it is heard.
        if says and child is says[-1] and script.callback and not leg.callback_asked:
            return await _press_one(leg, verb, member, wait_url)
    if await leg.sleep(float(verb.attrs.get("timeout", "5")), member.wake):
        return "bridged"
    return None


async def _press_one(leg: CallerLeg, verb: Verb, member: Member, wait_url: str) -> str | None:
    script = leg.script
    leg.callback_asked = True
    leg.note("☎ l'appelant tape 1 (rappel)")
    number = e164(script.callback_number or script.from_number)
    leg.t.phones.setdefault(number, Phone(script.answers_callback, script.callback_answer_after,
                                          script.talk_seconds))
    # The number's confirmation comes after the queue: 1, or the number keyed in.
    leg.inputs.insert(0, Press(script.callback_number or "1"))
    action = leg.t.url(verb.attrs.get("action", wait_url), wait_url)
    for answer in await leg.fetch(action, WAIT_VERBS, Digits="1"):
        if answer.name == "Leave":
            queue = leg.t.queue(leg.result.queues[-1])
            if member in queue:
                queue.remove(member)
            leg.note("quitte la file pour être rappelé")
            return "leave"
        if await leg.hear(answer, member.wake):
            return "bridged"
    return None


async def dial_number(agent: AgentLeg, verb: Verb, url: str) -> None:
    """<Dial><Number>: ring the phone back; it answers (the <Number url> runs) or not."""
    noun = next(n for n in verb.children if n.name == "Number")
    t = agent.t
    phone = t.phones.get(noun.text)
    limit = float(verb.attrs.get("timeout", "30"))
    child = new_sid("CA")
    status, talk = "no-answer", 0.0
    if phone is None or not phone.answers or phone.answer_after >= limit:
        await t.clock.sleep(limit)
        if phone is not None:
            phone.rang.append((t.clock.now(), False))
    else:
        await t.clock.sleep(phone.answer_after)
        phone.rang.append((t.clock.now(), True))
        phone.answered_at.append(t.clock.now())
        if "url" in noun.attrs:
            params = {"CallSid": child, "ParentCallSid": agent.sid,
                      "AccountSid": t.account_sid, "From": verb.attrs.get("callerId", ""),
                      "To": noun.text, "CallStatus": "in-progress",
                      "Direction": "outbound-dial", "ApiVersion": API_VERSION}
            _, verbs = await t.post(t.url(noun.attrs["url"], url), params, NUMBER_URL_VERBS)
            for spoken in verbs:
                if spoken.name == "Say":
                    phone.heard.append(spoken.text)
                    phone.languages.append(spoken.attrs.get("language", "en-US"))
                await t.clock.sleep(verb_seconds(spoken, 1.0))
        talk = min(agent.script.talk_seconds, phone.talk_seconds)
        await t.clock.sleep(talk)
        status = "completed"
    if "action" in verb.attrs:
        await t.post(t.url(verb.attrs["action"], url), agent.params(
            "in-progress", DialCallStatus=status, DialCallSid=child,
            DialCallDuration=str(int(talk))))
