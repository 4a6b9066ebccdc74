"""What simulated callers and agents do, and what a simulated call gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class Press:
    """The caller presses keys: `at` seconds into the <Gather>'s prompts, or after them.

    With `at`, the keys cut the prompt then playing (barge-in, as Twilio does); without it,
    the caller waits for the end of the prompts, as a cautious caller does.
    """

    digits: str
    at: float | None = None


@dataclass(frozen=True)
class Say:
    """The caller says a phrase (with the recognizer's confidence), `at` seconds in or after."""

    phrase: str
    confidence: float = 0.9
    at: float | None = None


@dataclass(frozen=True)
class Silence:
    """The caller says nothing."""


Input = Press | Say | Silence


@dataclass(frozen=True)
class CallerScript:
    """A caller: what they answer at each prompt, and when they give up."""

    inputs: tuple[Input, ...] = ()
    hangup_after: float | None = None
    talk_seconds: float = 60.0
    from_number: str = "+33611223344"
    to_number: str = "+33477481234"
    # Callbacks (issue 16): press 1 when the wait offers one; key this number instead of
    # confirming the caller's own; answer the phone when called back, after this delay.
    callback: bool = False
    callback_number: str | None = None
    answers_callback: bool = True
    callback_answer_after: float = 4.0


@dataclass(frozen=True)
class AgentScript:
    """An agent's phone: answers after a delay, never answers, is busy, or is a voicemail.

    A voicemail (a switched-off phone's network voicemail) answers at once and never presses
    a key. An `answer_after` past the REST `Timeout` still answers if Twilio's extra ringing
    (`FakeTwilio.timeout_slack`, up to 5 s) lasts that long: a late answer.
    """

    behaviour: Literal["answer", "never", "busy", "voicemail"] = "answer"
    answer_after: float = 3.0
    # The keys the standardist presses when the leg asks for one (<Gather>).
    press: str = "1"
    # False: Twilio never delivers this leg's final status callback (lost on the way).
    final_callback: bool = True
    talk_seconds: float = 60.0
    # After this many seconds of conversation, send the caller to this service (admin API).
    transfer_to: str | None = None
    transfer_after: float = 10.0


@dataclass
class Transcript:
    """What happened, in order, readable by a person."""

    lines: list[str] = field(default_factory=list)

    def add(self, at: float, text: str) -> None:
        """Add a line stamped with seconds since the call began."""
        self.lines.append(f"[{at:7.1f}s] {text}")

    def __str__(self) -> str:
        return "\n".join(self.lines)


@dataclass
class CallResult:
    """The structured result of one simulated call, for tests to assert on."""

    call_sid: str
    started_at: datetime
    heard: list[str] = field(default_factory=list)
    webhooks: list[tuple[str, int]] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    queue_wait: float | None = None
    rings: int | None = None
    answered_by: str | None = None
    ended_by: str = "twilio"
    queue_result: str | None = None
    error: str | None = None
    transcript: Transcript = field(default_factory=Transcript)
    # Prompts cut by the caller (barge-in): the text and the seconds of it heard.
    cuts: list[tuple[str, float]] = field(default_factory=list)
    # The language of each <Say> in `heard`, one for one (Twilio's default is en-US).
    languages: list[str] = field(default_factory=list)
    # Seconds from the call's arrival to its first <Enqueue>.
    queued_after: float | None = None
    # Services the caller was transferred to, and the wait after the (last) transfer.
    transfers: list[str] = field(default_factory=list)
    second_wait: float | None = None
    # Who ended the conversation: "agent" (then the caller may hear the survey) or "caller".
    hung_up_first: str | None = None
    # Ringback cycles the caller heard begin in their first wait (what a listener counts),
    # and what the wait played: "ringback", or "music" (then a ring is a slice of the wait).
    rings_heard: int = 0
    hold: str | None = None

    @property
    def heard_text(self) -> str:
        """Everything the caller heard, as one text."""
        return " ".join(self.heard)
