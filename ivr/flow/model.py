"""The voice menu as data: what the flow file holds once validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from typing import Literal

SERVICES = ("crisis", "immigration", "road_safety", "user_relations", "reception")
RECEPTION = "reception"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Prompt:
    """One thing the caller hears: text for <Say> or an audio URL for <Play>."""

    text: str | None = None
    audio_url: str | None = None

    def formatted(self, **values: object) -> Prompt:
        """Fill `{name}` placeholders in the text (audio prompts are left as they are)."""
        if self.text is None:
            return self
        return Prompt(text=self.text.format(**values))


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
    max_attempts: int = 2
    gather_timeout_seconds: int = 6

    def prompt(self, name: str, **values: object) -> Prompt:
        """A named prompt with its placeholders filled."""
        return self.prompts[name].formatted(**values)

    def queue_name(self, service: str) -> str:
        """The Twilio queue name of a service (unique per flow, at most 64 characters)."""
        return f"{self.id}-{service}"

    def service_of_queue(self, queue_name: str) -> str | None:
        """The service whose queue is `queue_name`, if any."""
        prefix = f"{self.id}-"
        name = queue_name[len(prefix):] if queue_name.startswith(prefix) else None
        return name if name in self.services else None
