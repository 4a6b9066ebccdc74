"""The pure flow engine: (flow, position, caller input, now, crisis) -> next step. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, cast

from ivr.flow.hours import ClosedReason, closed_reason, french_days, upcoming_closures
from ivr.flow.model import LANGUAGE_OFFER, RECEPTION, Flow, Prompt, Service
from ivr.flow.speech import best_matches, normalize, says_any, strip_fillers

Step = Literal["menu", "confirm", "answer", "closed"]
# Spoken matches name services as they are and answers with this prefix (names may repeat).
_ANSWER = "answer:"


@dataclass(frozen=True)
class Position:
    """Where a caller stands in the menu; it travels in the signed action URL."""

    step: Step = "menu"
    failures: int = 0
    pending: str | None = None
    seq: int = 0
    # The language the caller chose (None: the flow's first language).
    lang: str | None = None

    def to_query(self) -> dict[str, str]:
        """The position as query parameters."""
        query = {"step": self.step, "failures": str(self.failures), "seq": str(self.seq)}
        if self.pending:
            query["pending"] = self.pending
        if self.lang:
            query["lang"] = self.lang
        return query

    @classmethod
    def from_query(cls, query: Mapping[str, str], flow: Flow) -> Position:
        """Read a position back; anything unexpected gives a fresh menu position."""
        try:
            failures = min(max(int(query.get("failures", "0")), 0), flow.max_attempts)
            seq = min(max(int(query.get("seq", "0")), 0), 10_000)
        except ValueError:
            return cls()
        step = query.get("step", "menu")
        pending = query.get("pending")
        lang = query.get("lang")
        lang = lang if lang in flow.translations else None
        if step == "confirm" and pending in flow.services:
            return cls("confirm", failures, pending, seq, lang)
        if step == "answer" and pending in flow.answers:
            return cls("answer", failures, pending, seq, lang)
        if step == "closed" and pending in ("hours", "holiday", "closure"):
            return cls("closed", 0, pending, seq, None)
        return cls("menu", failures, None, seq, lang)


@dataclass(frozen=True)
class CallerInput:
    """What Twilio's <Gather> reported: keys, or speech with its confidence."""

    digits: str = ""
    speech: str = ""
    confidence: float | None = None

    @property
    def kind(self) -> str:
        """dtmf, speech or none."""
        return "dtmf" if self.digits else "speech" if self.speech.strip() else "none"


@dataclass(frozen=True)
class Crisis:
    """The crisis announcement, when managers have switched it on."""

    message: str
    # The message in the flow's other languages, by code, when managers gave one.
    translated: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ask:
    """Play prompts and gather keys or speech, coming back at `position`."""

    prompts: tuple[Prompt, ...]
    position: Position
    hints: tuple[str, ...]
    language: str = "fr"


@dataclass(frozen=True)
class Route:
    """Play prompts, then queue the caller for a service.

    With `intro`, the service's information and "connecting" play once the caller is queued
    (see `queue_intro`): the agent's phone rings meanwhile, so they cost no time to a human.
    """

    service: str
    prompts: tuple[Prompt, ...]
    intro: bool = False
    language: str = "fr"


@dataclass(frozen=True)
class Close:
    """Play the closed message and hang up."""

    reason: ClosedReason
    prompts: tuple[Prompt, ...]
    language: str = "fr"
    # How many first prompts (greeting, offers of other languages) take a language's key.
    choice: int = 0


@dataclass(frozen=True)
class End:
    """Play prompts and hang up (the caller had their answer and said nothing more)."""

    prompts: tuple[Prompt, ...]
    language: str = "fr"


Action = Ask | Route | Close | End


@dataclass(frozen=True)
class Decision:
    """The next action, with what happened, for the call's event log and metrics."""

    action: Action
    event: str
    detail: dict[str, str] = field(default_factory=dict)


def menu_services(flow: Flow, crisis: Crisis | None) -> list[Service]:
    """Services in the order the menu offers them (the crisis service first in a crisis)."""
    ordered = sorted((s for s in flow.services.values() if s.name != RECEPTION),
                     key=lambda s: s.key)
    if crisis and flow.crisis_service is not None:
        ordered.sort(key=lambda s: s.name != flow.crisis_service)
    return [*ordered, *([flow.services[RECEPTION]] if RECEPTION in flow.services else [])]


def menu_prompts(flow: Flow, crisis: Crisis | None) -> tuple[Prompt, ...]:
    """The menu proper: one line per service, then how to speak and repeat."""
    return (*(s.menu for s in menu_services(flow, crisis)), flow.prompt("menu_outro"))


def _help(flow: Flow, crisis: Crisis | None) -> tuple[Prompt, ...]:
    """The menu again, after the relay service for deaf and hard-of-hearing callers."""
    return (flow.prompt("relay"), *menu_prompts(flow, crisis))


def _hints(flow: Flow) -> tuple[str, ...]:
    return (*(h for s in flow.services.values() for h in s.hints),
            *(h for a in flow.answers.values() for h in a.hints))


def begin(flow: Flow, now: datetime, crisis: Crisis | None) -> Decision:
    """The first step of a call: the greeting, the notice, then the menu or the closed message.

    A crisis announcement plays whether the switchboard is open or closed: an emergency at
    night or on a weekend is exactly when callers must hear it.
    """
    opening = [flow.prompt("greeting"), flow.prompt("notice")]
    if crisis:
        opening += [flow.prompt("crisis_intro"), Prompt(text=crisis.message)]
    reason = closed_reason(flow, now)
    if reason is not None:
        # Closed too, other languages are offered after the greeting (see `closed_choice`).
        offers = [t.prompts[LANGUAGE_OFFER] for t in flow.translations.values()]
        prompts = (opening[0], *offers, *opening[1:], *_closed(flow, reason))
        return Decision(Close(reason, prompts, choice=1 + len(offers) if offers else 0),
                        "closed",
                        {"reason": reason, "crisis": "on" if crisis else "off"})
    closing = upcoming_closures(flow, now)
    if closing:
        opening.append(flow.prompt("closure_notice", days=french_days(closing)))
    opening.append(flow.prompt("confidentiality"))
    # Other languages are offered right after the greeting (barge-in: a key works at once).
    opening[1:1] = [t.prompts[LANGUAGE_OFFER] for t in flow.translations.values()]
    action = Ask((*opening, *menu_prompts(flow, crisis)), Position(seq=1), _hints(flow))
    return Decision(action, "menu", {"crisis": "on" if crisis else "off"})


def respond(flow: Flow, position: Position, heard: CallerInput,
            crisis: Crisis | None) -> Decision:
    """The step after the caller answered (or did not answer) a menu or a confirmation."""
    at = replace(position, seq=position.seq + 1)
    digits = heard.digits.strip()
    chosen = next((t for t in flow.translations.values() if t.choice_key == digits), None)
    if position.step == "closed" and position.pending:
        return _closed_choice(flow, chosen, position.pending, crisis)
    # Only the first menu offers other languages (in its greeting); elsewhere the key is a key.
    if chosen is not None and position.lang is None and position.seq == 1:
        return _choose_language(chosen, at, crisis, flow)
    spoken = flow.in_language(position.lang)
    decision = _respond(spoken, position, at, heard, crisis)
    # Whatever comes next is said in the caller's language.
    return replace(decision, action=replace(decision.action, language=spoken.language))


def _respond(flow: Flow, position: Position, at: Position, heard: CallerInput,
             crisis: Crisis | None) -> Decision:
    digits = heard.digits.strip()
    if digits == "0":
        return _route(flow, RECEPTION, heard, "zero")
    if position.step == "confirm" and position.pending:
        return _confirm(flow, at, heard, crisis)
    if position.step == "answer" and position.pending:
        if digits == "*":
            return _answer(flow, position.pending, at, heard, "repeat")
        if heard.kind == "none":
            return Decision(End((flow.prompt("goodbye"),)), "goodbye",
                            {"answer": position.pending})
        at = replace(at, step="menu", pending=None)
    if digits == "*":
        return Decision(Ask(_help(flow, crisis), replace(at, step="menu"), _hints(flow)),
                        "repeat", {"input": heard.kind})
    if digits:
        service = next((s for s in flow.services.values() if s.key == digits), None)
        if service is None:
            return _failure(flow, at, "invalid_key", crisis)
        return _route(flow, service.name, heard, "choice")
    if not heard.speech.strip():
        return _failure(flow, at, "no_input", crisis)
    return _from_speech(flow, at, heard, crisis)


def _closed(flow: Flow, reason: str) -> tuple[Prompt, ...]:
    return flow.prompt(f"closed_{reason}"), flow.prompt("relay"), flow.prompt("goodbye")


def _crisis_in(chosen: Flow, crisis: Crisis, first: Flow) -> list[Prompt]:
    """The crisis announcement for a caller who chose another language."""
    text = crisis.translated.get(chosen.language)
    # Without a translation the message itself stays in the first language's voice.
    message = Prompt(text=text) if text else Prompt(text=crisis.message, voice=first.voice)
    return [chosen.prompt("crisis_intro"), message]


def _closed_choice(flow: Flow, chosen: Flow | None, reason: str,
                   crisis: Crisis | None) -> Decision:
    """A key during the closed greeting: the rest of the closed message, in the key's language.

    Any other key changes nothing: the caller hears the rest in the first language.
    """
    spoken = chosen or flow
    opening = [spoken.prompt("notice")]
    if crisis:
        opening += (_crisis_in(spoken, crisis, flow) if chosen
                    else [flow.prompt("crisis_intro"), Prompt(text=crisis.message)])
    action = Close(cast(ClosedReason, reason), (*opening, *_closed(spoken, reason)),
                   language=spoken.language)
    if chosen is None:
        return Decision(action, "closed_key", {"closed": reason})
    return Decision(action, "language", {"language": spoken.language})


def _choose_language(chosen: Flow, at: Position, crisis: Crisis | None,
                     first: Flow) -> Decision:
    """The caller chose another language: the rest of the opening and the menu in it."""
    opening = [chosen.prompt("notice")]
    if crisis:
        opening += _crisis_in(chosen, crisis, first)
    opening.append(chosen.prompt("confidentiality"))
    ask = Ask((*opening, *menu_prompts(chosen, crisis)),
              replace(at, step="menu", failures=0, pending=None, lang=chosen.language),
              _hints(chosen), language=chosen.language)
    return Decision(ask, "language", {"language": chosen.language})


def _heard_words(flow: Flow, heard: CallerInput) -> str:
    return strip_fillers(normalize(heard.speech), flow.speech.fillers)


def _from_speech(flow: Flow, at: Position, heard: CallerInput,
                 crisis: Crisis | None) -> Decision:
    words = _heard_words(flow, heard)
    targets = {s.name: s.keywords for s in flow.services.values()}
    targets.update({_ANSWER + a.name: a.keywords for a in flow.answers.values()})
    matches = best_matches(words, targets)
    if not matches:
        if says_any(words, flow.speech.repeat_words):
            return Decision(Ask(_help(flow, crisis), at, _hints(flow)), "repeat",
                            {"input": "speech"})
        return _failure(flow, at, "no_match", crisis)
    if len(matches) > 1 and matches[0][1] == matches[1][1]:
        return _failure(flow, at, "ambiguous", crisis)
    service = matches[0][0]
    if service.startswith(_ANSWER):
        return _answer(flow, service.removeprefix(_ANSWER), at, heard, "answer")
    confidence = heard.confidence
    if confidence is not None and confidence < flow.speech.min_confidence:
        label = flow.services[service].label
        ask = Ask((flow.prompt("confirm", label=label),),
                  replace(at, step="confirm", pending=service), _hints(flow))
        return Decision(ask, "confirm_asked", {"service": service})
    return _route(flow, service, heard, "choice")


def _confirm(flow: Flow, at: Position, heard: CallerInput,
             crisis: Crisis | None) -> Decision:
    pending = at.pending or RECEPTION
    words = _heard_words(flow, heard)
    if heard.digits == "1" or (not heard.digits and says_any(words, flow.speech.yes_words)):
        return _route(flow, pending, heard, "confirmed")
    if heard.digits == "*":
        label = flow.services[pending].label
        return Decision(Ask((flow.prompt("confirm", label=label),), at, _hints(flow)),
                        "repeat", {"input": heard.kind})
    back = replace(at, step="menu", pending=None)
    if heard.digits == "2" or (not heard.digits and says_any(words, flow.speech.no_words)):
        return Decision(Ask(menu_prompts(flow, crisis), back, _hints(flow)), "confirm_declined",
                        {"service": pending})
    return _failure(flow, back, "unconfirmed", crisis)


def _failure(flow: Flow, at: Position, reason: str, crisis: Crisis | None) -> Decision:
    failures = at.failures + 1
    if failures >= flow.max_attempts:
        prompts = (flow.prompt("invalid" if reason != "no_input" else "no_input"),
                   flow.prompt("to_reception"))
        return Decision(Route(RECEPTION, prompts), "failure",
                        {"reason": reason, "then": RECEPTION})
    lead = flow.prompt("ambiguous" if reason == "ambiguous" else
                       "no_input" if reason == "no_input" else "invalid")
    ask = Ask((lead, *menu_prompts(flow, crisis)), replace(at, failures=failures), _hints(flow))
    return Decision(ask, "failure", {"reason": reason, "then": "menu"})


def _answer(flow: Flow, name: str, at: Position, heard: CallerInput, event: str) -> Decision:
    """An answer without a standardist, ending with how to reach one (0)."""
    prompts = (*flow.answers[name].text, flow.prompt("answer_outro"))
    ask = Ask(prompts, replace(at, step="answer", pending=name, failures=0), _hints(flow))
    return Decision(ask, event, {"answer": name, "input": heard.kind})


def queue_intro(flow: Flow, name: str) -> tuple[Prompt, ...]:
    """What a caller routed by the menu hears at the start of the service's queue."""
    service = flow.services[name]
    return (*service.info, flow.prompt("connecting", label=service.label))


def _route(flow: Flow, name: str, heard: CallerInput, via: str) -> Decision:
    return Decision(Route(name, (), intro=True), "choice",
                    {"service": name, "input": heard.kind, "via": via})
