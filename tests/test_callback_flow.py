"""The flow file's callback thresholds and prompts, and the survey in every declared language."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from ivr import keys
from ivr.flow.loader import FlowError, parse_flow
from ivr.simulator.harness import Harness
from ivr.simulator.script import AgentScript, CallerScript, Press
from ivr.store import agents, survey
from tests.conftest import ROOT

LOIRE = yaml.safe_load((ROOT / "flows" / "loire.yaml").read_text(encoding="utf-8"))


def _problems(doc: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(FlowError) as caught:
        parse_flow(doc, "loire.yaml")
    return caught.value.problems


def test_thresholds_are_read_per_service() -> None:
    """callback_after_seconds is per service; a service without it offers no callback."""
    flow = parse_flow(copy.deepcopy(LOIRE))
    assert flow.services["immigration"].queue.callback_after_seconds == 60
    assert flow.services["crisis"].queue.callback_after_seconds is None


def test_threshold_after_the_overflow_is_refused() -> None:
    """A threshold at or past max_wait_seconds would never be offered: named at its place."""
    doc = copy.deepcopy(LOIRE)
    doc["services"]["immigration"]["queue"]["callback_after_seconds"] = 180
    assert ("services.immigration.queue.callback_after_seconds",
            "must be less than max_wait_seconds (180): the caller would have left the queue "
            "before the offer") in _problems(doc)


def test_callback_prompts_required_once_a_service_offers_callbacks() -> None:
    """Without callback_offer, a flow that offers callbacks fails; without thresholds it passes."""
    doc = copy.deepcopy(LOIRE)
    del doc["prompts"]["callback_offer"]
    del doc["languages"]["en"]["prompts"]["callback_offer"]
    assert ("prompts.callback_offer",
            "missing prompt (services immigration, reception offer callbacks)") in _problems(doc)
    for service in doc["services"].values():
        service.get("queue", {}).pop("callback_after_seconds", None)
    parse_flow(doc)


def test_missing_english_callback_and_survey_prompts_fail_with_their_place() -> None:
    """`ivr flow check` names each prompt missing in English, the survey's included."""
    doc = copy.deepcopy(LOIRE)
    del doc["languages"]["en"]["prompts"]["callback_booked"]
    del doc["languages"]["en"]["survey"]["thanks"]
    problems = _problems(doc)
    assert ("languages.en.prompts.callback_booked", "missing prompt in this language") \
        in problems
    assert ("languages.en.survey.thanks", "missing prompt in this language") in problems


def test_staff_prompts_need_no_translation() -> None:
    """What the standardist hears stays in French: the English flow reuses it."""
    flow = parse_flow(copy.deepcopy(LOIRE))
    english = flow.in_language("en")
    assert english.prompts["callback_agent"] == flow.prompts["callback_agent"]
    assert english.survey is not None
    assert english.survey.thanks.text == "Thank you for your answer. Goodbye."


def test_flow_check_lists_callback_thresholds() -> None:
    """`ivr flow check` prints which services offer callbacks, after how long."""
    from ivr.callbacks.offer import thresholds

    assert thresholds(parse_flow(copy.deepcopy(LOIRE))) == \
        "immigration after 60 s, reception after 90 s"


async def test_english_caller_answers_the_survey_in_english(harness: Harness) -> None:
    """An English caller whose standardist hangs up first hears the survey in English only."""
    h = harness
    pool = h.app[keys.POOL]
    agent = await agents.add(pool, "Claire", "+33477000001", ["immigration"], h.clock.now())
    await agents.set_status(pool, agent.id, "available", h.clock.now())
    h.twilio.agent_scripts["+33477000001"] = AgentScript(answer_after=3, talk_seconds=20)
    result = await h.twilio.call(CallerScript(
        inputs=(Press("9", at=3.0), Press("2"), Press("5"), Press("1")), talk_seconds=60))
    await h.twilio.settle()
    assert result.error is None, result.transcript
    asked = result.heard.index(
        "Your opinion helps us. Are you satisfied with how your call was handled? Press 1, "
        "not at all satisfied, to 5, very satisfied.")
    assert result.heard[asked:] == [
        "Your opinion helps us. Are you satisfied with how your call was handled? Press 1, "
        "not at all satisfied, to 5, very satisfied.",
        "Were you directed to the right service? Press 1 for yes, 2 for no.",
        "Thank you for your answer. Goodbye."]
    assert set(result.languages[asked:]) == {"en-GB"}
    since = h.clock.now().replace(hour=0)
    assert await survey.satisfaction_by_service(pool, since, h.clock.now()) == \
        {"immigration": (1, 1)}
