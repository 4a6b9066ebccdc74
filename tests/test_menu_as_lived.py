"""The menu as callers live it (issue 15): barge-in, a short path, answers, what callers hear."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from ivr import keys
from ivr.flow.engine import menu_prompts
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.script import (
    AgentScript,
    CallerScript,
    Press,
    Say,
    Silence,
)
from ivr.store import agents, crisis
from tests.conftest import OPEN, paris
from tests.helpers import call_through

NOTICE = "Votre numéro pseudonymisé et vos choix sont gardés un an ; vous pouvez vous y opposer."
TOWN_HALL = "mairie équipée"




def _pool(h: Harness) -> asyncpg.Pool:
    return h.app[keys.POOL]


def _menu_texts(flow: Flow) -> list[str]:
    return [p.text or "" for p in menu_prompts(flow, None)]


async def test_key_two_at_one_second_cuts_the_greeting(harness: Harness, flow: Flow) -> None:
    """Key 2 pressed 1 s into the greeting: queued for immigration, no menu heard after it."""
    result = await call_through(harness, Press("2", at=1.0))
    assert result.cuts == [(flow.prompts["greeting"].text, 1.0)]
    assert result.queues[0] == "loire-immigration"
    assert not set(_menu_texts(flow)) & set(result.heard), result.transcript
    assert NOTICE not in result.heard
    assert result.queued_after is not None
    assert result.queued_after < 3.0, result.transcript
    assert any("✂ coupé après 1.0s" in line for line in result.transcript.lines)


async def test_press_at_once_is_queued_within_three_seconds(harness: Harness) -> None:
    """A caller who presses their key as the greeting starts is enqueued < 3 s after arrival."""
    result = await call_through(harness, Press("3", at=0.0))
    assert result.queues[0] == "loire-road_safety"
    assert result.queued_after is not None
    assert result.queued_after < 3.0, result.transcript
    row = await _pool(harness).fetchrow(
        "SELECT extract(epoch FROM queued_at - arrived_at) AS s FROM calls WHERE call_sid = $1",
        result.call_sid)
    assert row is not None
    assert float(row["s"]) < 3.0


async def test_speech_two_seconds_in_gets_the_town_hall_answer(harness: Harness) -> None:
    """ "carte d'identité" said 2 s in: the town-hall answer, no queue; hung up: self_served."""
    result = await call_through(harness, Say("carte d'identité", at=2.0), hangup_after=40)
    assert len(result.cuts) == 1
    assert result.cuts[0][1] == 2.0
    assert TOWN_HALL in result.heard_text
    assert "Pour parler à un conseiller, tapez 0." in result.heard
    assert result.queues == []
    row = await _pool(harness).fetchrow(
        "SELECT outcome FROM calls WHERE call_sid = $1", result.call_sid)
    assert row is not None
    assert row["outcome"] == "self_served"
    registry = harness.app[keys.METRICS].registry
    assert registry.get_sample_value(
        "ivr_calls_total", {"service": "none", "outcome": "self_served"}) == 1.0


async def test_passport_by_speech_never_reaches_a_queue(harness: Harness) -> None:
    """ "passeport" heard after the whole menu: the town-hall answer, then goodbye in silence."""
    result = await call_through(harness, Say("euh un passeport"), Silence())
    assert TOWN_HALL in result.heard_text
    assert result.queues == []
    assert result.heard[-1] == "Merci de votre appel, au revoir."
    outcome = await _pool(harness).fetchval(
        "SELECT outcome FROM calls WHERE call_sid = $1", result.call_sid)
    assert outcome == "self_served"


@pytest.mark.parametrize(("phrase", "words"), [
    ("france services", "France Services"),
    ("je voudrais un rendez-vous", "prise de rendez-vous se font en ligne"),
])
async def test_other_answers_by_speech(harness: Harness, phrase: str, words: str) -> None:
    """France Services and residence-permit appointments are answered without a standardist."""
    result = await call_through(harness, Say(phrase), hangup_after=60)
    assert words in result.heard_text
    assert result.queues == []


async def test_zero_after_an_answer_reaches_reception(harness: Harness) -> None:
    """After an answer, 0 reaches reception: the call is then counted as a routed call."""
    result = await call_through(harness, Say("passeport", at=1.0), Press("0", at=1.0))
    assert result.queues[0] == "loire-reception"
    row = await _pool(harness).fetchrow(
        "SELECT requested_service, outcome FROM calls WHERE call_sid = $1", result.call_sid)
    assert row is not None
    assert row["requested_service"] == "reception"
    assert row["outcome"] != "self_served"


async def test_listener_hears_each_sentence_once_in_order(harness: Harness,
                                                          flow: Flow) -> None:
    """A caller who waits for the end hears greeting, notice, confidentiality, menu, once each.

    The offer of English (issue 16) comes right after the greeting.
    """
    result = await call_through(harness, Press("2"))
    expected = [flow.prompts[n].text for n in ("greeting", "notice", "confidentiality")]
    expected.insert(1, "For English, press 9.")
    expected += _menu_texts(flow)
    assert result.heard[:len(expected)] == expected
    assert result.cuts == []
    assert len(result.heard) == len(set(result.heard))


async def test_prompts_outside_a_gather_cannot_be_cut(settings: Settings, flow: Flow,
                                                      db_url: str) -> None:
    """Keys timed during the closed message (no <Gather>) cut nothing: it plays to the end.

    Since issue 16 the greeting and the offer of English (3.8 s) take a key, then 1 s of
    listening: a key at 8 s falls inside the closed message proper.
    """
    async with running(settings, flow, db_url, paris("2026-11-25T20:00")) as h:
        result = await call_through(h, Press("2", at=8.0))
    assert result.cuts == []
    assert "du lundi au vendredi" in result.heard_text
    assert result.queues == []


async def test_time_to_human_at_once_and_after_listening(settings: Settings, flow: Flow,
                                                         db_url: str) -> None:
    """Time to human: measured for a caller who presses at once and one who hears it all."""
    measured: dict[str, float] = {}
    for name, key in (("at_once", Press("2", at=0.0)), ("listens", Press("2"))):
        async with running(settings, flow, db_url, paris(OPEN)) as h:
            agent = await agents.add(_pool(h), "Claire", "+33477000001", ["immigration"],
                                     h.clock.now())
            await agents.set_status(_pool(h), agent.id, "available", h.clock.now())
            h.twilio.agent_scripts["+33477000001"] = AgentScript(answer_after=3,
                                                                 talk_seconds=10)
            result = await h.twilio.call(CallerScript(inputs=(key,), talk_seconds=10))
            await h.twilio.settle()
            assert result.queue_result == "bridged", result.transcript
            seconds = await _pool(h).fetchval(
                """SELECT extract(epoch FROM answered_at - arrived_at) FROM calls
                   WHERE call_sid = $1""", result.call_sid)
            measured[name] = float(seconds)
            await _pool(h).execute("DELETE FROM offers; DELETE FROM agents")
    print(f"time to human: {measured}")
    # The key at once: about 0.5 s of key, the info and connecting prompts, 3 s of ringing.
    assert measured["at_once"] < 20
    # Listening to all of it adds the whole first menu (about 25 s spoken).
    assert measured["listens"] - measured["at_once"] > 24


@pytest.mark.parametrize(("moment", "announced"), [
    ("2026-12-18T10:00", True),    # Friday 25 December is 7 days ahead
    ("2026-12-17T10:00", False),   # 8 days ahead: not yet
    ("2026-12-24T10:00", True),    # the day before
])
async def test_closure_notice_only_in_the_seven_days_before(
        settings: Settings, flow: Flow, db_url: str, moment: str, announced: bool) -> None:
    """ "Le standard sera fermé le vendredi 25 décembre" plays only in the 7 days before."""
    async with running(settings, flow, db_url, paris(moment)) as h:
        result = await call_through(h, Press("0"))
    notice = "Le standard sera fermé le vendredi 25 décembre."
    assert (notice in result.heard) is announced, result.heard[:5]


async def test_relay_named_when_closed_and_in_help(settings: Settings, flow: Flow,
                                                   db_url: str) -> None:
    """The relay for deaf and hard-of-hearing callers is named when closed and in the help."""
    async with running(settings, flow, db_url, paris("2026-11-28T10:00")) as h:
        closed = await call_through(h)
    assert "le service Acceo" in closed.heard_text
    async with running(settings, flow, db_url, paris(OPEN)) as h:
        helped = await call_through(h, Press("*", at=0.5), Press("2"))
    assert "le service Acceo" in helped.heard_text
    assert helped.queues[0] == "loire-immigration"


@pytest.mark.parametrize("moment", [OPEN, "2026-11-25T21:00", "2026-12-25T10:00"])
async def test_every_call_starts_with_the_notice(settings: Settings, flow: Flow, db_url: str,
                                                 moment: str) -> None:
    """Open, closed or on a holiday, the call starts with the greeting and the notice."""
    async with running(settings, flow, db_url, paris(moment)) as h:
        result = await call_through(h, Press("0"))
    offer = ["For English, press 9."]  # issue 16: English is offered right after the greeting
    assert result.heard[:2 + len(offer)] == [flow.prompts["greeting"].text, *offer, NOTICE]


async def test_crisis_announcement_plays_when_closed(settings: Settings, flow: Flow,
                                                     db_url: str) -> None:
    """At night with the crisis announcement on, callers hear it before the closed message."""
    message = "Inondations dans le Roannais : consultez loire point gouv point f r."
    async with running(settings, flow, db_url, paris("2026-11-28T23:00")) as h:
        now = h.clock.now()
        await crisis.switch(_pool(h), active=True, message=message,
                            until=now + timedelta(hours=6), now=now, by="test")
        result = await call_through(h)
        marked = await _pool(h).fetchval("SELECT crisis FROM calls WHERE call_sid = $1",
                                         result.call_sid)
        counted = h.app[keys.METRICS].registry.get_sample_value("ivr_crisis_calls_total")
    # After the greeting, the offer of English (issue 16) and the notice.
    assert result.heard[3:5] == ["Message important de la préfecture.", message]
    assert "du lundi au vendredi" in result.heard_text
    assert marked is True
    assert counted == 1.0
