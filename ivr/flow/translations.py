"""The flow's other languages: the same menu, hours and queues with translated prompts."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ivr.flow.loader import (
    _ID,
    _Checker,
    _keywords,
    _prompt,
    _speech,
    _voice,
)
from ivr.flow.model import (
    LANGUAGE_OFFER,
    PROMPT_VALUES,
    STAFF_PROMPTS,
    Answer,
    Flow,
    Prompt,
    Relay,
    Service,
)
from ivr.flow.survey import translate_survey

_CODE = re.compile(r"^[a-z]{2}$")
_FIELDS = ("voice", "key", "offer", "prompts", "services", "answers", "speech", "relay",
           "survey")


def translations(c: _Checker, raw: Any, flow: Flow) -> Flow:
    """The flow with its declared languages; every prompt missing in one is a problem."""
    data = c.mapping(raw)
    found: dict[str, Flow] = {}
    for code, value in data.items():
        with c.at(str(code)):
            if not isinstance(code, str) or not _CODE.match(code) or code == flow.language:
                c.fail(f"a language is a two-letter code other than {flow.language!r}")
                continue
            translated = _translation(c, code, c.mapping(value), flow, found)
            if translated is not None:
                found[code] = translated
    return replace(flow, translations=found)


def _translation(c: _Checker, code: str, data: dict[str, Any], flow: Flow,
                 taken: dict[str, Flow]) -> Flow | None:
    c.unknown_keys(data, _FIELDS)
    before = len(c.problems)
    with c.at("voice"):
        voice = _voice(c, data.get("voice", {}))
    with c.at("key"):
        key = str(data.get("key", ""))
        keys = {s.key for s in flow.services.values()} | {t.choice_key for t in taken.values()}
        if len(key) != 1 or not key.isdigit() or key in keys:
            c.fail(f"bad key {data.get('key')!r}: one digit 0-9 that no service or other "
                   "language uses")
    with c.at("offer"):
        offer = _prompt(c, data.get("offer"))
    with c.at("prompts"):
        prompts = _prompts(c, c.mapping(data.get("prompts", {})), flow)
    with c.at("speech"):
        speech = _speech(c, data.get("speech", {}))
    with c.at("services"):
        services = _services(c, c.mapping(data.get("services", {})), flow, speech.fillers)
    with c.at("answers"):
        answers = _answers(c, c.mapping(data.get("answers", {})), flow, speech.fillers)
    with c.at("relay"):
        relay = c.mapping(data.get("relay", {}))
        c.unknown_keys(relay, ("name", "how"))
        name = c.text(relay.get("name", flow.relay.name))
        with c.at("how"):
            how = c.text(relay.get("how"))
    with c.at("survey"):
        survey = translate_survey(c, data.get("survey"), flow.survey)
    if len(c.problems) > before or offer is None:
        return None
    prompts[LANGUAGE_OFFER] = replace(offer, voice=voice)
    return replace(flow, voice=voice, prompts=prompts, services=services, answers=answers,
                   speech=speech, relay=Relay(name or flow.relay.name, how or ""), survey=survey,
                   language=code, choice_key=key)


def _prompts(c: _Checker, data: dict[str, Any], flow: Flow) -> dict[str, Prompt]:
    prompts: dict[str, Prompt] = {}
    for name in data:
        if name not in flow.prompts:
            with c.at(str(name)):
                c.fail("not a prompt of the flow's first language")
    for name in flow.prompts:
        with c.at(name):
            if name in STAFF_PROMPTS and name not in data:
                prompts[name] = flow.prompts[name]  # standardists hear the first language
                continue
            if name not in data:
                c.fail("missing prompt in this language")
                continue
            prompt = _prompt(c, data[name], PROMPT_VALUES.get(name, frozenset()))
            if prompt is not None:
                prompts[name] = prompt
    return prompts


def _services(c: _Checker, data: dict[str, Any], flow: Flow,
              fillers: tuple[str, ...]) -> dict[str, Service]:
    services: dict[str, Service] = {}
    for name in data:
        if name not in flow.services:
            with c.at(str(name)):
                c.fail("not a service of the flow")
    for name, service in flow.services.items():
        with c.at(name):
            if name not in data:
                c.fail("missing service in this language (label, menu, keywords)")
                continue
            item = c.mapping(data[name])
            c.unknown_keys(item, ("label", "menu", "keywords", "info"))
            with c.at("label"):
                label = c.text(item.get("label"))
            with c.at("menu"):
                menu = _prompt(c, item.get("menu"))
            with c.at("keywords"):
                keywords, hints = _keywords(c, item.get("keywords"), fillers)
            info = _texts(c, "info", item.get("info", []), len(service.info))
            if label and menu:
                services[name] = replace(service, label=label, menu=menu, keywords=keywords,
                                         hints=hints, info=info)
    return services


def _answers(c: _Checker, data: dict[str, Any], flow: Flow,
             fillers: tuple[str, ...]) -> dict[str, Answer]:
    answers: dict[str, Answer] = {}
    for name in data:
        if not isinstance(name, str) or not _ID.match(name) or name not in flow.answers:
            with c.at(str(name)):
                c.fail("not an answer of the flow")
    for name, answer in flow.answers.items():
        with c.at(name):
            if name not in data:
                c.fail("missing answer in this language (say, keywords)")
                continue
            item = c.mapping(data[name])
            c.unknown_keys(item, ("say", "keywords"))
            text = _texts(c, "say", item.get("say"), len(answer.text))
            with c.at("keywords"):
                keywords, hints = _keywords(c, item.get("keywords"), fillers)
            answers[name] = Answer(name, text, keywords, hints)
    return answers


def _texts(c: _Checker, field: str, raw: Any, count: int) -> tuple[Prompt, ...]:
    """A list of prompts that must match the first language's, one for one."""
    items = raw if isinstance(raw, list) else [] if raw is None else [raw]
    found: list[Prompt] = []
    with c.at(field):
        for i in range(max(count, len(items))):
            with c.at(str(i)):
                if i >= len(items):
                    c.fail("missing text in this language")
                elif i >= count:
                    c.fail("no such text in the flow's first language")
                elif (prompt := _prompt(c, items[i])) is not None:
                    found.append(prompt)
    return tuple(found)
