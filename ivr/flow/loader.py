"""Load a flow file and validate it, naming the file, the place and the problem."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, time
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml

from ivr.flow.model import (
    CALLBACK_PROMPTS,
    PROMPT_VALUES,
    RECEPTION,
    WEEKDAYS,
    Answer,
    Closure,
    Flow,
    Prompt,
    QueuePolicy,
    Relay,
    Service,
    SpeechSettings,
    TimeRange,
    Voice,
)
from ivr.flow.speech import normalize, strip_fillers
from ivr.flow.survey import parse_survey

REQUIRED_PROMPTS = (
    "greeting", "confidentiality", "menu_outro", "connecting", "invalid", "no_input", "ambiguous",
    "confirm",
    "to_reception", "closed_hours", "closed_holiday", "closed_closure", "crisis_intro",
    "technical_error", "overflow", "unanswered", "wait_position", "caller_gone",
    "notice", "closure_notice", "relay", "answer_outro", "goodbye",
)
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_T = TypeVar("_T")


class FlowError(Exception):
    """A flow file that cannot be used; `problems` lists each place and what is wrong."""

    def __init__(self, path: str, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [f"{path}: {place or '(top)'}: {problem}" for place, problem in problems]
        super().__init__("\n".join(lines))


class _Checker:
    """Collects problems while walking the YAML tree."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []
        self._place: list[str] = []

    @contextmanager
    def at(self, part: str) -> Iterator[None]:
        self._place.append(part)
        try:
            yield
        finally:
            self._place.pop()

    def fail(self, problem: str) -> None:
        self.problems.append((".".join(self._place), problem))

    def mapping(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(f"expected a mapping, got {type(value).__name__}")
            return {}
        return value

    def text(self, value: Any, *, required: bool = True) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail("must be a non-empty text")
            return None
        return value.strip()

    def number(self, value: Any, cast: Callable[[Any], _T], low: float, high: float) -> _T | None:
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not low <= value <= high):
            self.fail(f"must be a number from {low} to {high}")
            return None
        return cast(value)

    def unknown_keys(self, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                self.fail(f"unknown field {key!r} (allowed: {', '.join(allowed)})")


def load_flow(path: str | Path) -> Flow:
    """Read and validate a flow file, or raise FlowError listing every problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FlowError(str(path), [("", f"cannot read the file: {exc.strerror}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise FlowError(str(path), [(where, f"not valid YAML: {exc}")]) from None
    return parse_flow(raw, str(path))


def parse_flow(raw: Any, source: str = "<flow>") -> Flow:
    """Validate an already-parsed flow document."""
    c = _Checker()
    doc = c.mapping(raw)
    c.unknown_keys(doc, ("id", "name", "voice", "timezone", "opening_hours", "holidays",
                         "closures", "prompts", "services", "speech", "max_attempts",
                         "gather_timeout_seconds", "relay", "answers", "menu_max_seconds",
                         "crisis_service", "languages", "survey"))
    with c.at("id"):
        flow_id = c.text(doc.get("id")) or ""
        if flow_id and not _ID.match(flow_id):
            c.fail("must be lower-case letters, digits, '-' or '_' (at most 31)")
    with c.at("name"):
        name = c.text(doc.get("name")) or ""
    with c.at("voice"):
        voice = _voice(c, doc.get("voice", {}))
    with c.at("timezone"):
        timezone = c.text(doc.get("timezone", "Europe/Paris")) or "Europe/Paris"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            c.fail(f"unknown time zone {timezone!r}")
    with c.at("opening_hours"):
        hours = _opening_hours(c, doc.get("opening_hours"))
    with c.at("holidays"):
        country, subdivision = _holidays(c, doc.get("holidays", {"country": "FR"}))
    with c.at("closures"):
        closures = _closures(c, doc.get("closures", []))
    with c.at("prompts"):
        prompts = _prompts(c, doc.get("prompts"))
    with c.at("speech"):
        speech = _speech(c, doc.get("speech", {}))
    with c.at("services"):
        services = _services(c, doc.get("services"), speech.fillers)
    with c.at("answers"):
        answers = _answers(c, doc.get("answers", {}), speech.fillers, services)
    with c.at("prompts"):
        _callback_prompts(c, prompts, services)
    with c.at("relay"):
        relay = _relay(c, doc.get("relay"))
    with c.at("max_attempts"):
        attempts = c.number(doc.get("max_attempts", 2), int, 1, 5) or 2
    with c.at("gather_timeout_seconds"):
        timeout = c.number(doc.get("gather_timeout_seconds", 6), int, 1, 30) or 6
    with c.at("menu_max_seconds"):
        menu_max = c.number(doc.get("menu_max_seconds", 25), float, 5, 300) or 25.0
    with c.at("crisis_service"):
        crisis_service = doc.get("crisis_service", "crisis" if "crisis" in services else None)
        if crisis_service is not None and crisis_service not in services:
            c.fail(f"unknown service {crisis_service!r}")
    with c.at("survey"):
        survey = parse_survey(c, doc.get("survey"))
    if c.problems:
        raise FlowError(source, c.problems)
    assert relay is not None
    flow = Flow(id=flow_id, name=name, voice=voice, timezone=timezone, opening_hours=hours,
                holiday_country=country, holiday_subdivision=subdivision, closures=closures,
                prompts=prompts, services=services, speech=speech, relay=relay,
                answers=answers, max_attempts=attempts, gather_timeout_seconds=timeout,
                menu_max_seconds=menu_max, crisis_service=crisis_service,
                survey=survey)
    # Imported here: translations reuse this module's checks (a cycle at import time).
    from ivr.flow.translations import translations

    with c.at("languages"):
        flow = translations(c, doc.get("languages", {}), flow)
    if c.problems:
        raise FlowError(source, c.problems)
    return flow


def _voice(c: _Checker, raw: Any) -> Voice:
    data = c.mapping(raw)
    c.unknown_keys(data, ("language", "voice"))
    with c.at("language"):
        language = c.text(data.get("language", "fr-FR")) or "fr-FR"
    with c.at("voice"):
        voice = c.text(data.get("voice", "Polly.Lea")) or "Polly.Lea"
    return Voice(language=language, voice=voice)


def _clock(c: _Checker, hh: str, mm: str) -> time | None:
    hour, minute = int(hh), int(mm)
    if hour == 24 and minute == 0:
        return time.max
    if hour > 23 or minute > 59:
        c.fail(f"{hh}:{mm} is not a time of day")
        return None
    return time(hour, minute)


def _opening_hours(c: _Checker, raw: Any) -> dict[str, tuple[TimeRange, ...]]:
    data = c.mapping(raw)
    result: dict[str, tuple[TimeRange, ...]] = {day: () for day in WEEKDAYS}
    for day, ranges in data.items():
        with c.at(str(day)):
            if day not in WEEKDAYS:
                c.fail(f"unknown day (expected one of {', '.join(WEEKDAYS)})")
                continue
            if not isinstance(ranges, list):
                c.fail("expected a list of ranges such as '08:00-19:00'")
                continue
            parsed: list[TimeRange] = []
            for i, text in enumerate(ranges):
                with c.at(str(i)):
                    match = _RANGE.match(text) if isinstance(text, str) else None
                    if not match:
                        c.fail(f"bad time range {text!r}: expected HH:MM-HH:MM")
                        continue
                    start = _clock(c, match.group(1), match.group(2))
                    end = _clock(c, match.group(3), match.group(4))
                    if start is None or end is None:
                        continue
                    if start >= end:
                        c.fail(f"bad time range {text!r}: the start is not before the end")
                        continue
                    if any(start < r.end and r.start < end for r in parsed):
                        c.fail(f"bad time range {text!r}: overlaps another range")
                        continue
                    parsed.append(TimeRange(start, end))
            result[day] = tuple(sorted(parsed, key=lambda r: r.start))
    return result


def _holidays(c: _Checker, raw: Any) -> tuple[str, str | None]:
    data = c.mapping(raw)
    c.unknown_keys(data, ("country", "subdivision"))
    country = str(data.get("country", "FR"))
    subdivision = data.get("subdivision")
    supported = holidays.list_supported_countries()
    with c.at("country"):
        if country not in supported:
            c.fail(f"unknown holiday country {country!r}")
            return country, None
    with c.at("subdivision"):
        if subdivision is not None and str(subdivision) not in supported[country]:
            c.fail(f"unknown subdivision {subdivision!r} for {country} "
                   f"(known: {', '.join(supported[country])})")
    return country, None if subdivision is None else str(subdivision)


def _closures(c: _Checker, raw: Any) -> tuple[Closure, ...]:
    if not isinstance(raw, list):
        c.fail("expected a list of closures")
        return ()
    found: list[Closure] = []
    for i, item in enumerate(raw):
        with c.at(str(i)):
            data = c.mapping(item)
            c.unknown_keys(data, ("date", "every_year", "label"))
            label = str(data.get("label", "fermeture exceptionnelle"))
            if "date" in data:
                value = data["date"]
                if isinstance(value, str):
                    with suppress(ValueError):
                        value = date.fromisoformat(value)
                if not isinstance(value, date):
                    with c.at("date"):
                        c.fail(f"bad date {value!r}: expected YYYY-MM-DD")
                    continue
                found.append(Closure(label=label, on=value))
            elif "every_year" in data:
                text = str(data["every_year"])
                try:
                    day = date.fromisoformat(f"2000-{text}")  # a leap year admits 02-29
                except ValueError:
                    with c.at("every_year"):
                        c.fail(f"bad day {text!r}: expected MM-DD")
                    continue
                found.append(Closure(label=label, month=day.month, day=day.day))
            else:
                c.fail("a closure needs 'date' (YYYY-MM-DD) or 'every_year' (MM-DD)")
    return tuple(found)


def _prompt(c: _Checker, raw: Any, supplied: frozenset[str] = frozenset()) -> Prompt | None:
    if isinstance(raw, dict):
        c.unknown_keys(raw, ("say", "play"))
        if "play" in raw:
            url = raw["play"]
            parts = urlsplit(url) if isinstance(url, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
                c.fail(f"bad audio URL {url!r}: expected http(s)://...")
                return None
            return Prompt(audio_url=url)
        raw = raw.get("say")
    text = c.text(raw)
    if text is None:
        return None
    prompt = Prompt(text=text)
    try:
        used = prompt.placeholders()
    except ValueError:
        c.fail("has unbalanced braces { }")
        return None
    # A typo such as {lable} would fail at the first call: only what the step supplies passes.
    unknown = sorted(used - supplied)
    if unknown:
        offered = ", ".join(f"{{{v}}}" for v in sorted(supplied)) or "none"
        c.fail(f"unknown placeholder(s) {', '.join(f'{{{u}}}' for u in unknown)} "
               f"(this prompt offers: {offered})")
        return None
    return prompt


def _prompts(c: _Checker, raw: Any) -> dict[str, Prompt]:
    data = c.mapping(raw)
    prompts: dict[str, Prompt] = {}
    for name, value in data.items():
        with c.at(str(name)):
            prompt = _prompt(c, value, PROMPT_VALUES.get(str(name), frozenset()))
            if prompt is not None:
                prompts[str(name)] = prompt
    for name in REQUIRED_PROMPTS:
        if name not in data:
            with c.at(name):
                c.fail("missing prompt")
    return prompts


def _services(c: _Checker, raw: Any, fillers: tuple[str, ...]) -> dict[str, Service]:
    data = c.mapping(raw)
    services: dict[str, Service] = {}
    keys_seen: dict[str, str] = {}
    words_seen: dict[str, str] = {}
    for name, value in data.items():
        with c.at(str(name)):
            if not isinstance(name, str) or not _ID.match(name):
                c.fail("a service name must be lower-case letters, digits, '-' or '_' "
                       "(at most 31)")
                continue
            service = _service(c, str(name), c.mapping(value), fillers)
            if service is None:
                continue
            with c.at("key"):
                if service.key in keys_seen:
                    c.fail(f"duplicate key {service.key!r} (also {keys_seen[service.key]})")
                keys_seen[service.key] = service.name
            with c.at("keywords"):
                for word in service.keywords:
                    if words_seen.get(word, service.name) != service.name:
                        c.fail(f"duplicate keyword {word!r} (also {words_seen[word]})")
                    words_seen[word] = service.name
            services[service.name] = service
    if RECEPTION not in data:
        c.fail("the 'reception' service is required: it is where every failed path ends")
    for service in services.values():
        target = service.queue.overflow_to
        if target is not None and target not in services:
            with c.at(f"{service.name}.queue.overflow_to"):
                c.fail(f"unknown service {target!r}")
    _overflow_cycles(c, services)
    return services


def _overflow_cycles(c: _Checker, services: dict[str, Service]) -> None:
    """Fail on a chain of overflows that comes back to where it started (A -> B -> A)."""
    reported: set[str] = set()
    for start in services:
        chain = [start]
        target = services[start].queue.overflow_to
        while target is not None and target in services and target not in chain:
            chain.append(target)
            target = services[target].queue.overflow_to
        if target == start and len(chain) > 1 and not reported & set(chain):
            reported.update(chain)
            with c.at(f"{start}.queue.overflow_to"):
                c.fail(f"overflow cycle {' -> '.join([*chain, start])}: callers would "
                       "go round for ever")


def _service(c: _Checker, name: str, data: dict[str, Any],
             fillers: tuple[str, ...]) -> Service | None:
    c.unknown_keys(data, ("label", "key", "menu", "keywords", "info", "queue"))
    with c.at("label"):
        label = c.text(data.get("label"))
    with c.at("key"):
        key = str(data.get("key", ""))
        if len(key) != 1 or not key.isdigit():
            c.fail(f"bad key {data.get('key')!r}: expected one digit 0-9 (* repeats the menu)")
    with c.at("menu"):
        menu = _prompt(c, data.get("menu"))
    with c.at("keywords"):
        keywords, hints = _keywords(c, data.get("keywords"), fillers)
    info: list[Prompt] = []
    with c.at("info"):
        raw_info = data.get("info", [])
        for i, item in enumerate(raw_info if isinstance(raw_info, list) else [raw_info]):
            with c.at(str(i)):
                prompt = _prompt(c, item)
                if prompt is not None:
                    info.append(prompt)
    with c.at("queue"):
        queue = _queue(c, data.get("queue", {}), name)
    if label is None or menu is None or queue is None:
        return None
    return Service(name=name, label=label, key=key, menu=menu, keywords=keywords, hints=hints,
                   info=tuple(info), queue=queue)


def _keywords(c: _Checker, raw: Any, fillers: tuple[str, ...]) -> tuple[tuple[str, ...],
                                                                     tuple[str, ...]]:
    """(keywords as compared, hints as given) from a list of spoken phrases."""
    if not isinstance(raw, list) or not raw:
        c.fail("expected a non-empty list of spoken keywords")
        raw = []
    hints = tuple(str(w).strip() for w in raw if normalize(str(w)))
    # Keywords lose the same fillers as what callers say, so both sides compare alike.
    return tuple(k for k in (strip_fillers(normalize(w), fillers) for w in hints) if k), hints


def _answers(c: _Checker, raw: Any, fillers: tuple[str, ...],
             services: dict[str, Service]) -> dict[str, Answer]:
    data = c.mapping(raw)
    answers: dict[str, Answer] = {}
    taken = {word: s.name for s in services.values() for word in s.keywords}
    for name, value in data.items():
        with c.at(str(name)):
            if not isinstance(name, str) or not _ID.match(name):
                c.fail("an answer name must be lower-case letters, digits, '-' or '_'")
                continue
            item = c.mapping(value)
            c.unknown_keys(item, ("say", "keywords"))
            text: list[Prompt] = []
            with c.at("say"):
                raw_text = item.get("say")
                for i, part in enumerate(raw_text if isinstance(raw_text, list)
                                         else [raw_text]):
                    with c.at(str(i)):
                        prompt = _prompt(c, part)
                        if prompt is not None:
                            text.append(prompt)
            with c.at("keywords"):
                keywords, hints = _keywords(c, item.get("keywords"), fillers)
                for word in keywords:
                    if taken.get(word, name) != name:
                        c.fail(f"duplicate keyword {word!r} (also {taken[word]})")
                    taken[word] = name
            if text and keywords:
                answers[name] = Answer(name, tuple(text), keywords, hints)
    return answers


def _relay(c: _Checker, raw: Any) -> Relay | None:
    if raw is None:
        c.fail("the relay service for deaf and hard-of-hearing callers is required "
               "(name, how)")
        return None
    data = c.mapping(raw)
    c.unknown_keys(data, ("name", "how"))
    with c.at("name"):
        name = c.text(data.get("name"))
    with c.at("how"):
        how = c.text(data.get("how"))
    return Relay(name, how) if name and how else None


def _queue(c: _Checker, raw: Any, service: str) -> QueuePolicy | None:
    data = c.mapping(raw)
    c.unknown_keys(data, ("waiting", "music_url", "announce_after_seconds",
                          "announce_every_seconds", "max_wait_seconds", "overflow_to",
                          "callback_after_seconds"))
    waiting = data.get("waiting", "ringback")
    if waiting not in ("ringback", "music"):
        with c.at("waiting"):
            c.fail(f"bad waiting mode {waiting!r}: expected ringback or music")
        return None
    music_url = data.get("music_url")
    # Without a music_url, music waiting plays the app's own short clips (ivr/hold_music.py).
    if waiting == "music" and music_url is not None:
        with c.at("music_url"):
            parts = urlsplit(music_url) if isinstance(music_url, str) else None
            if parts is None or parts.scheme not in ("http", "https"):
                c.fail("music_url must be an http(s):// URL (or left out: the app's clips)")
    numbers: dict[str, int] = {}
    for field, default in (("announce_after_seconds", 60), ("announce_every_seconds", 60),
                           ("max_wait_seconds", 120)):
        with c.at(field):
            numbers[field] = c.number(data.get(field, default), int, 10, 3600) or default
    overflow = data.get("overflow_to", None if service == RECEPTION else RECEPTION)
    if overflow == service:
        with c.at("overflow_to"):
            c.fail("a service cannot overflow to itself")
    callback = _callback_after(c, data.get("callback_after_seconds"),
                               numbers["max_wait_seconds"])
    return QueuePolicy(waiting=waiting, music_url=music_url, overflow_to=overflow,
                       callback_after_seconds=callback, **numbers)


def _callback_after(c: _Checker, raw: Any, max_wait: int) -> int | None:
    """`callback_after_seconds`: absent means no callback; it must come before the overflow."""
    if raw is None:
        return None
    with c.at("callback_after_seconds"):
        seconds = c.number(raw, int, 10, 3600)
        if seconds is not None and seconds >= max_wait:
            c.fail(f"must be less than max_wait_seconds ({max_wait}): the caller would have "
                   "left the queue before the offer")
            return None
    return seconds


def _callback_prompts(c: _Checker, prompts: dict[str, Prompt],
                      services: dict[str, Service]) -> None:
    """A flow that offers callbacks needs their prompts."""
    offering = [s.name for s in services.values() if s.queue.callback_after_seconds]
    for name in CALLBACK_PROMPTS if offering else ():
        if name not in prompts:
            with c.at(name):
                c.fail(f"missing prompt (services {', '.join(offering)} offer callbacks)")


def _speech(c: _Checker, raw: Any) -> SpeechSettings:
    data = c.mapping(raw)
    c.unknown_keys(data, ("min_confidence", "fillers", "yes_words", "no_words", "repeat_words"))
    with c.at("min_confidence"):
        confidence = c.number(data.get("min_confidence", 0.5), float, 0.0, 1.0)

    def words(field: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = data.get(field, list(default))
        with c.at(field):
            if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
                c.fail("expected a list of words")
                return default
        return tuple(n for n in (normalize(w) for w in value) if n)

    return SpeechSettings(
        min_confidence=0.5 if confidence is None else confidence,
        fillers=words("fillers", ()),
        yes_words=words("yes_words", ("oui",)),
        no_words=words("no_words", ("non",)),
        repeat_words=words("repeat_words", ("repeter",)),
    )
