"""English for callers who do not speak French (issue 16): the offer, the menu, the queues."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from ivr import keys
from ivr.flow.engine import CallerInput, Crisis, Position, begin, respond
from ivr.flow.loader import FlowError, parse_flow
from ivr.flow.model import Flow
from ivr.flow.speaking import menu_warnings
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.script import AgentScript, CallerScript, CallResult, Input, Press, Say
from ivr.store import agents, crisis
from ivr.views.render import render
from tests.conftest import OPEN, ROOT, paris

CLAIRE = "+33477000001"


@pytest.fixture
async def harness(settings: Settings, flow: Flow, db_url: str) -> AsyncIterator[Harness]:
    """The server on a Wednesday morning, on virtual time."""
    async with running(settings, flow, db_url, paris(OPEN)) as h:
        yield h


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "flows" / "loire.yaml").read_text("utf-8"))
    return data


def _pool(h: Harness) -> asyncpg.Pool:
    return h.app[keys.POOL]


async def _call(h: Harness, *inputs: Input, talk: float = 0) -> CallResult:
    result = await h.twilio.call(CallerScript(inputs=inputs, hangup_after=300,
                                              talk_seconds=talk))
    await h.twilio.settle()
    assert result.error is None, result.transcript
    return result


def _english_texts(flow: Flow) -> set[str]:
    """Every text of the English menu (prompts, services, answers), placeholders aside."""
    en = flow.translations["en"]
    texts = {p.text for p in en.prompts.values() if p.text}
    for s in en.services.values():
        texts |= {p.text for p in (s.menu, *s.info) if p.text}
    for a in en.answers.values():
        texts |= {p.text for p in a.text if p.text}
    return texts


def _after_choice(result: CallResult) -> list[tuple[str, str]]:
    """(language, text) of what the caller heard after the offer of English was cut by 9."""
    cut = result.heard.index("For English, press 9.")
    return list(zip(result.languages, result.heard, strict=True))[cut + 1:]


async def test_english_caller_hears_only_english(harness: Harness, flow: Flow) -> None:
    """9 during the offer (barge-in, before 5 s): the rest of the call is English, en-GB voice.

    The caller reaches the same immigration queue, hears its information and "connecting"
    in English, and the call records the language for standardists.
    """
    pool = _pool(harness)
    claire = await agents.add(pool, "Claire", CLAIRE, ["immigration"], harness.clock.now())
    await agents.set_status(pool, claire.id, "available", harness.clock.now())
    harness.twilio.agent_scripts[CLAIRE] = AgentScript(answer_after=8, talk_seconds=5)
    result = await _call(harness, Press("9", at=3.0), Press("2"), talk=5)
    assert result.heard[0] == "Bonjour, préfecture de la Loire."
    # Cut 3 s into the call, within the offer that follows the 32-character greeting.
    [(cut_text, cut_at)] = result.cuts
    assert cut_text == "For English, press 9."
    assert cut_at == pytest.approx(3.0 - 32 / 14, abs=0.01)
    heard = _after_choice(result)
    assert heard, result.transcript
    assert {lang for lang, _ in heard} == {"en-GB"}
    allowed = _english_texts(flow) | {"We are putting you through to the immigration office. "
                                      "Please hold."}
    assert [t for _, t in heard if t not in allowed] == []
    assert "Residence permits, press 2." in result.heard
    assert result.queues == ["loire-immigration"]
    assert result.answered_by is not None
    row = await pool.fetchrow("SELECT language, outcome FROM calls WHERE call_sid = $1",
                              result.call_sid)
    assert row is not None
    assert (row["language"], row["outcome"]) == ("en", "answered")


async def test_english_speech_is_recognised_in_english(harness: Harness) -> None:
    """After 9, the caller says what they need in English and reaches the right queue."""
    result = await _call(harness, Press("9", at=3.0), Say("my driving licence", 0.9))
    assert result.queues[0] == "loire-road_safety"
    assert "The switchboard" not in result.heard_text
    assert {lang for lang, _ in _after_choice(result)} == {"en-GB"}


def test_english_gather_listens_in_english(flow: Flow, settings: Settings) -> None:
    """The English menu's <Gather> asks Twilio for en-GB speech and English hints."""
    decision = respond(flow, Position(seq=1), CallerInput(digits="9"), None)
    assert decision.event == "language"
    xml = render(decision.action, flow, settings)
    assert 'language="en-GB"' in xml
    assert 'voice="Polly.Amy"' in xml
    assert "fr-FR" not in xml
    assert "residence permit" in xml
    assert "lang=en" in xml


def test_the_offer_is_only_in_the_first_menu(flow: Flow) -> None:
    """9 chooses English in the greeting's menu; later it is an ordinary (invalid) key."""
    later = respond(flow, Position(seq=2, failures=1), CallerInput(digits="9"), None)
    assert later.event == "failure"
    opening = begin(flow, paris(OPEN), None)
    texts = [p.text for p in opening.action.prompts]
    assert texts[:2] == ["Bonjour, préfecture de la Loire.", "For English, press 9."]
    assert menu_warnings(flow) == []


def test_crisis_message_in_english_or_else_in_french(flow: Flow) -> None:
    """An English crisis text is read to English callers; without one, the French text in
    the French voice, after the English introduction."""
    both = Crisis("Alerte crue.", {"en": "Flood alert."})
    texts = [p.text for p in respond(flow, Position(seq=1), CallerInput(digits="9"),
                                     both).action.prompts]
    assert texts[1:3] == ["An important message from the préfecture.", "Flood alert."]
    french_only = respond(flow, Position(seq=1), CallerInput(digits="9"), Crisis("Alerte crue."))
    message = french_only.action.prompts[2]
    assert message.text == "Alerte crue."
    assert message.voice is not None
    assert message.voice.language == "fr-FR"


async def test_crisis_english_text_is_stored_and_heard(harness: Harness) -> None:
    """`crisis.switch(translated=...)` keeps the English text; an English caller hears it."""
    pool = _pool(harness)
    await crisis.switch(pool, active=True, message="Inondations.", until=None,
                        now=harness.clock.now(), by="test", translated={"en": "Flooding."})
    result = await _call(harness, Press("9", at=3.0), Press("0"))
    heard = [t for _, t in _after_choice(result)]
    assert heard[1:3] == ["An important message from the préfecture.", "Flooding."]
    assert "Inondations." not in result.heard


def test_missing_english_prompt_fails_flow_check_with_its_place() -> None:
    """A prompt, a service's menu and an info text missing in English: each named by place."""
    raw = _raw()
    broken = copy.deepcopy(raw)
    en = broken["languages"]["en"]
    del en["prompts"]["goodbye"]
    del en["services"]["crisis"]["menu"]
    en["services"]["immigration"]["info"] = []
    del en["answers"]["identity"]
    with pytest.raises(FlowError) as caught:
        parse_flow(broken, "loire.yaml")
    places = {place for place, _ in caught.value.problems}
    assert places == {"languages.en.prompts.goodbye", "languages.en.services.crisis.menu",
                      "languages.en.services.immigration.info.0",
                      "languages.en.answers.identity"}
    assert "loire.yaml: languages.en.prompts.goodbye: missing prompt in this language" \
        in str(caught.value)
    parse_flow(raw)  # the shipped file is complete


def test_flow_check_cli_names_the_missing_prompt(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`ivr flow check` fails on a flow whose English lacks a prompt, naming file and place."""
    from ivr.cli import main

    raw = _raw()
    del raw["languages"]["en"]["prompts"]["wait_position"]
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert main(["flow", "check", str(path)]) != 0
    err = capsys.readouterr().err
    assert f"{path}: languages.en.prompts.wait_position: missing prompt in this language" in err


def test_language_key_must_be_free() -> None:
    """The key that chooses English cannot be a service's key."""
    raw = _raw()
    raw["languages"]["en"]["key"] = 2
    with pytest.raises(FlowError) as caught:
        parse_flow(raw)
    assert [p for p, _ in caught.value.problems] == ["languages.en.key"]


async def test_english_caller_hears_the_hours_when_closed(settings: Settings, flow: Flow,
                                                         db_url: str) -> None:
    """Closed at night: 9 during the offer gives the opening hours in English, then goodbye."""
    async with running(settings, flow, db_url, paris("2026-11-25T21:00")) as h:
        result = await _call(h, Press("9", at=3.0))
        row = await _pool(h).fetchrow(
            "SELECT language, outcome, closed_reason FROM calls WHERE call_sid = $1",
            result.call_sid)
    heard = _after_choice(result)
    assert {lang for lang, _ in heard} == {"en-GB"}
    en = flow.translations["en"]
    assert [t for _, t in heard] == [en.prompts["notice"].text, en.prompts["closed_hours"].text,
                                     en.prompt("relay").text, en.prompts["goodbye"].text]
    assert row is not None
    assert tuple(row) == ("en", "closed", "hours")


async def test_french_caller_still_hears_the_whole_closed_message(settings: Settings,
                                                                  flow: Flow,
                                                                  db_url: str) -> None:
    """Closed, a caller who presses nothing hears the French message to its goodbye."""
    async with running(settings, flow, db_url, paris("2026-12-25T10:00")) as h:
        result = await _call(h)
    assert result.heard[-1] == flow.prompts["goodbye"].text
    assert flow.prompts["closed_holiday"].text in result.heard
    assert result.cuts == []


def test_wait_announcement_in_english(flow: Flow) -> None:
    """The queue's position announcement says its minutes in the caller's language."""
    en = flow.translations["en"]
    spoken = en.prompt("wait_position", position=2, wait=en.minutes(1)).text
    assert spoken == ("You are number 2 in the queue. Estimated wait: about one minute. "
                      "Please stay on the line.")
    assert en.minutes(3) == "3 minutes"
    assert flow.minutes(1) == "une minute"
