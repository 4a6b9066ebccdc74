"""The voice menu as data: what the flow file holds once validated."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import date, time
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ivr.flow.survey import Survey

RECEPTION = "reception"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# The placeholders the code fills in each named prompt; any other prompt takes none.
PROMPT_VALUES: dict[str, frozenset[str]] = {
    "connecting": frozenset({"label"}),
    "confirm": frozenset({"label"}),
    "wait_position": frozenset({"position", "wait"}),
    "closure_notice": frozenset({"days"}),
    "relay": frozenset({"relay_name", "relay_how"}),
    "callback_confirm": frozenset({"digits"}),
    "callback_booked": frozenset({"wait"}),
    "callback_agent": frozenset({"label", "wait"}),
}
# Prompts a flow must have once one of its services offers callbacks (issue 16).
CALLBACK_PROMPTS = ("callback_offer", "callback_confirm", "callback_invalid", "callback_booked",
                    "callback_hello", "callback_agent", "callback_not_reached")
# Prompts only standardists hear: always in the flow's first language, never translated.
STAFF_PROMPTS = frozenset({"callback_agent", "callback_not_reached"})
# The prompt of a translation, spoken in its own voice in the greeting, that offers it.
LANGUAGE_OFFER = "language_offer"
# The prompts of the first menu whose spoken length the flow's threshold bounds.
MAIN_MENU_PROMPTS = ("greeting", "notice", "confidentiality")


@dataclass(frozen=True)
class Prompt:
    """One thing the caller hears: text for <Say> or an audio URL for <Play>."""

    text: str | None = None
    audio_url: str | None = None
    # Spoken in this voice rather than the caller's (the offer of another language).
    voice: Voice | None = None

    def formatted(self, **values: object) -> Prompt:
        """Fill `{name}` placeholders in the text (audio prompts are left as they are)."""
        if self.text is None:
            return self
        return Prompt(text=self.text.format(**values), voice=self.voice)

    def placeholders(self) -> set[str]:
        """The `{name}` placeholders the text uses (ValueError on unbalanced braces)."""
        if self.text is None:
            return set()
        return {name for _, name, _, _ in string.Formatter().parse(self.text)
                if name is not None}


@dataclass(frozen=True)
class Voice:
    """The <Say> voice and language."""

    language: str = "fr-FR"
    voice: str = "Polly.Lea"


@dataclass(frozen=True)
class TimeRange:
    """An opening period within one day, start included, end excluded."""

    start: time
    end: time


@dataclass(frozen=True)
class Closure:
    """A day the switchboard is closed: once (`on`) or every year (`month`, `day`)."""

    label: str
    on: date | None = None
    month: int | None = None
    day: int | None = None

    def matches(self, day: date) -> bool:
        """True when this closure covers `day`."""
        if self.on is not None:
            return self.on == day
        return (day.month, day.day) == (self.month, self.day)


@dataclass(frozen=True)
class QueuePolicy:
    """How a service's callers wait and where they go when nobody answers in time."""

    waiting: Literal["ringback", "music"] = "ringback"
    music_url: str | None = None
    announce_after_seconds: int = 60
    announce_every_seconds: int = 60
    max_wait_seconds: int = 120
    overflow_to: str | None = RECEPTION
    # After this wait the caller may ask to be called back, keeping their place (None: never).
    callback_after_seconds: int | None = None


@dataclass(frozen=True)
class Service:
    """A routing target reachable by a key and by spoken keywords."""

    name: str
    label: str
    key: str
    menu: Prompt
    keywords: tuple[str, ...]
    hints: tuple[str, ...] = ()
    info: tuple[Prompt, ...] = ()
    queue: QueuePolicy = field(default_factory=QueuePolicy)


@dataclass(frozen=True)
class Answer:
    """An answer the menu gives without a standardist, reached by spoken keywords."""

    name: str
    text: tuple[Prompt, ...]
    keywords: tuple[str, ...]
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Relay:
    """The relay service for deaf and hard-of-hearing callers: its name and how to reach it."""

    name: str
    how: str


@dataclass(frozen=True)
class SpeechSettings:
    """Speech recognition words and thresholds."""

    min_confidence: float = 0.5
    fillers: tuple[str, ...] = ()
    yes_words: tuple[str, ...] = ("oui",)
    no_words: tuple[str, ...] = ("non",)
    repeat_words: tuple[str, ...] = ("repeter",)


@dataclass(frozen=True)
class Flow:
    """A prefecture's whole voice menu."""

    id: str
    name: str
    voice: Voice
    timezone: str
    opening_hours: dict[str, tuple[TimeRange, ...]]
    holiday_country: str
    holiday_subdivision: str | None
    closures: tuple[Closure, ...]
    prompts: dict[str, Prompt]
    services: dict[str, Service]
    speech: SpeechSettings
    relay: Relay
    answers: dict[str, Answer] = field(default_factory=dict)
    max_attempts: int = 2
    gather_timeout_seconds: int = 6
    menu_max_seconds: float = 25.0
    # The service offered first while the crisis announcement is on, if any.
    crisis_service: str | None = None
    # The post-call satisfaction survey, when the flow enables it.
    survey: Survey | None = None
    # The language of this flow's prompts, and the same menu in other languages by code.
    language: str = "fr"
    translations: dict[str, Flow] = field(default_factory=dict)
    # Within a translation: the key that chooses it in the first menu, and how it is offered.
    choice_key: str | None = None

    def in_language(self, code: str | None) -> Flow:
        """This menu in the language `code` (itself when unknown or None)."""
        return self.translations.get(code or "", self)

    def minutes(self, count: int) -> str:
        """A number of minutes as this flow's callers say it."""
        if self.language == "en":
            return "one minute" if count == 1 else f"{count} minutes"
        return "une minute" if count == 1 else f"{count} minutes"

    def prompt(self, name: str, **values: object) -> Prompt:
        """A named prompt with its placeholders filled (the relay's come from the flow)."""
        if name == "relay":
            values = {"relay_name": self.relay.name, "relay_how": self.relay.how, **values}
        return self.prompts[name].formatted(**values)

    def queue_name(self, service: str) -> str:
        """The Twilio queue name of a service (unique per flow, at most 64 characters)."""
        return f"{self.id}-{service}"

    def service_of_queue(self, queue_name: str) -> str | None:
        """The service whose queue is `queue_name`, if any."""
        prefix = f"{self.id}-"
        name = queue_name[len(prefix):] if queue_name.startswith(prefix) else None
        return name if name in self.services else None
