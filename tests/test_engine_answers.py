"""The pure engine's answers, help and notices: table tests, no server, no database."""

from __future__ import annotations

import pytest

from ivr.flow.engine import (
    Ask,
    CallerInput,
    Close,
    Crisis,
    End,
    Position,
    Route,
    begin,
    menu_services,
    respond,
)
from ivr.flow.model import Flow
from tests.conftest import OPEN, paris

AFTER_ANSWER = Position(step="answer", pending="identity", seq=2)


def _texts(prompts: tuple[object, ...]) -> list[str]:
    return [getattr(p, "text", "") or "" for p in prompts]


@pytest.mark.parametrize(("heard", "kind", "detail"), [
    (CallerInput(digits="0"), Route, "reception"),
    (CallerInput(digits="2"), Route, "immigration"),
    (CallerInput(speech="titre de séjour", confidence=0.9), Route, "immigration"),
    (CallerInput(digits="*"), Ask, "identity"),
    (CallerInput(), End, "identity"),
    (CallerInput(speech="france services", confidence=0.9), Ask, "france_services"),
])
def test_after_an_answer(flow: Flow, heard: CallerInput, kind: type, detail: str) -> None:
    """After an answer: 0 or a service goes on, * repeats it, silence ends, speech asks again."""
    decision = respond(flow, AFTER_ANSWER, heard, None)
    assert isinstance(decision.action, kind)
    if isinstance(decision.action, Route):
        assert decision.action.service == detail
        assert decision.action.intro
    else:
        assert decision.detail.get("answer") == detail


def test_answer_ends_with_press_zero(flow: Flow) -> None:
    """Every answer is followed by "Pour parler à un conseiller, tapez 0." and waits there."""
    for name in flow.answers:
        phrase = flow.answers[name].keywords[0]
        decision = respond(flow, Position(seq=1), CallerInput(speech=phrase), None)
        assert isinstance(decision.action, Ask), name
        assert _texts(decision.action.prompts)[-1] == "Pour parler à un conseiller, tapez 0."
        assert decision.action.position.step == "answer"
        assert decision.action.position.pending == name


def test_star_gives_the_relay_before_the_menu(flow: Flow) -> None:
    """The menu's help names the relay service for deaf and hard-of-hearing callers first."""
    decision = respond(flow, Position(seq=1), CallerInput(digits="*"), None)
    assert isinstance(decision.action, Ask)
    assert "le service Acceo" in _texts(decision.action.prompts)[0]


def test_closed_with_crisis_plays_both(flow: Flow) -> None:
    """Closed at night in a crisis: greeting, notice, crisis, closed message, relay, goodbye."""
    decision = begin(flow, paris("2026-11-25T22:00"), Crisis("Alerte crue."))
    assert isinstance(decision.action, Close)
    texts = _texts(decision.action.prompts)
    # After the greeting, the offer of English (issue 16) and the notice.
    assert texts[3:5] == ["Message important de la préfecture.", "Alerte crue."]
    assert "le service Acceo" in texts[-2]
    assert texts[-1] == "Merci de votre appel, au revoir."
    assert decision.detail == {"reason": "hours", "crisis": "on"}


def test_crisis_service_comes_first_only_in_a_crisis(flow: Flow) -> None:
    """The flow's crisis_service (here road safety, key 3) leads the menu in a crisis only."""
    import yaml

    from ivr.flow.loader import parse_flow
    from tests.conftest import ROOT

    raw = yaml.safe_load((ROOT / "flows" / "loire.yaml").read_text())
    raw["crisis_service"] = "road_safety"
    roads = parse_flow(raw)
    assert [s.name for s in menu_services(roads, None)][:3] == [
        "crisis", "immigration", "road_safety"]
    assert [s.name for s in menu_services(roads, Crisis("x"))][:2] == [
        "road_safety", "crisis"]
    decision = begin(flow, paris(OPEN), None)
    assert isinstance(decision.action, Ask)
    # 25 November 2026: no closure in the next 7 days, so no closure notice.
    assert "Le standard sera fermé" not in " ".join(_texts(decision.action.prompts))
