"""The post-call satisfaction survey: its questions, who is asked, and what a key means."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ivr.flow.model import Prompt

if TYPE_CHECKING:
    from ivr.flow.loader import _Checker

# Question names, in the order they are asked; each maps a key to the stored answer.
SATISFACTION = "satisfaction"
ORIENTED = "oriented"
KEYS: dict[str, dict[str, str]] = {
    SATISFACTION: {d: d for d in "12345"},
    ORIENTED: {"1": "yes", "2": "no"},
}


@dataclass(frozen=True)
class Survey:
    """The survey a flow enables: its French prompts and the share of callers asked."""

    satisfaction: Prompt
    oriented: Prompt | None
    thanks: Prompt
    share: float = 1.0
    timeout_seconds: int = 6

    def questions(self) -> tuple[str, ...]:
        """The questions asked, in order (the orientation one only when it has a prompt)."""
        return (SATISFACTION, ORIENTED) if self.oriented is not None else (SATISFACTION,)

    def prompt(self, question: str) -> Prompt:
        """The prompt of a question."""
        prompt = self.oriented if question == ORIENTED else self.satisfaction
        assert prompt is not None
        return prompt

    def next_question(self, question: str) -> str | None:
        """The question after `question`, or None at the end."""
        order = self.questions()
        index = order.index(question) + 1 if question in order else len(order)
        return order[index] if index < len(order) else None

    def asks(self, call_sid: str) -> bool:
        """Whether this call is in the share asked: a stable draw from its CallSid."""
        draw = int.from_bytes(hashlib.sha256(call_sid.encode()).digest()[:4], "big") / 2**32
        return draw < self.share


def answer_of(question: str, digits: str) -> str | None:
    """The stored answer a key stands for, or None for a wrong key or none."""
    return KEYS.get(question, {}).get(digits)


def parse_survey(c: _Checker, raw: Any) -> Survey | None:
    """The flow's `survey:` section (absent: no survey)."""
    from ivr.flow.loader import _prompt  # the loader imports this module's parser

    if raw is None:
        return None
    data = c.mapping(raw)
    c.unknown_keys(data, ("share", "satisfaction", "oriented", "thanks", "timeout_seconds"))
    with c.at("share"):
        share = c.number(data.get("share", 1.0), float, 0.0, 1.0)
    with c.at("timeout_seconds"):
        timeout = c.number(data.get("timeout_seconds", 6), int, 1, 30) or 6
    with c.at("satisfaction"):
        satisfaction = _prompt(c, data.get("satisfaction"))
    oriented = None
    if "oriented" in data:
        with c.at("oriented"):
            oriented = _prompt(c, data.get("oriented"))
    with c.at("thanks"):
        thanks = _prompt(c, data.get("thanks"))
    if satisfaction is None or thanks is None or share is None:
        return None
    return Survey(satisfaction, oriented, thanks, share, timeout)


def translate_survey(c: _Checker, raw: Any, survey: Survey | None) -> Survey | None:
    """A language's `survey:` texts: each prompt of the first language's survey, translated."""
    from ivr.flow.loader import _prompt

    if survey is None:
        if raw is not None:
            c.fail("the flow has no survey to translate")
        return None
    data = c.mapping(raw if raw is not None else {})
    c.unknown_keys(data, ("satisfaction", "oriented", "thanks"))
    found: dict[str, Prompt | None] = {}
    wanted = ("satisfaction", "thanks") + (("oriented",) if survey.oriented else ())
    for name in wanted:
        with c.at(name):
            if name not in data:
                c.fail("missing prompt in this language")
                continue
            found[name] = _prompt(c, data[name])
    if len(found) != len(wanted) or None in found.values():
        return None
    return replace(survey, satisfaction=found["satisfaction"] or survey.satisfaction,
                   thanks=found["thanks"] or survey.thanks,
                   oriented=found.get("oriented", survey.oriented))
