"""The voice menu through the simulator: keys, speech, repeat, 0, failures, closed, crisis."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from ivr import keys
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.script import Press, Say, Silence
from ivr.store import crisis
from tests.conftest import paris
from tests.helpers import call_through


async def _events(pool: asyncpg.Pool, call_sid: str) -> list[str]:
    rows = await pool.fetch("SELECT kind FROM call_events WHERE call_sid = $1 ORDER BY id",
                            call_sid)
    return [r["kind"] for r in rows]


@pytest.mark.parametrize(("key", "service"), [
    ("1", "crisis"), ("2", "immigration"), ("3", "road_safety"), ("4", "user_relations"),
    ("0", "reception")])
async def test_each_service_by_key(harness: Harness, key: str, service: str) -> None:
    """A key sends the caller to its service's queue (overflowing to reception: no agents)."""
    result = await call_through(harness, Press(key))
    assert result.queues[0] == f"loire-{service}"
    row = await harness.app[keys.POOL].fetchrow(
        "SELECT requested_service FROM calls WHERE call_sid = $1", result.call_sid)
    assert row is not None
    assert row["requested_service"] == service


@pytest.mark.parametrize(("phrase", "service"), [
    ("c'est une urgence", "crisis"),
    ("euh je voudrais des renseignements sur mon titre de séjour", "immigration"),
    ("NATURALISATION", "immigration"),
    ("ma carte grise s'il vous plaît", "road_safety"),
    ("permis de conduire", "road_safety"),
    ("j'ai besoin d'accompagnement pour une démarche en ligne", "user_relations"),
    ("je voudrais parler à l'accueil", "reception"),
])
async def test_each_service_by_speech(harness: Harness, phrase: str, service: str) -> None:
    """Speech tolerant of case, accents and fillers routes to the right service."""
    result = await call_through(harness, Say(phrase))
    assert result.queues[0] == f"loire-{service}"


async def test_info_message_is_played(harness: Harness) -> None:
    """Road safety callers hear where the ANTS procedures are before waiting."""
    result = await call_through(harness, Press("3"))
    assert "ANTS" in result.heard_text


async def test_star_repeats_the_menu(harness: Harness) -> None:
    """* plays the menu again, then a key still works."""
    result = await call_through(harness, Press("*"), Press("2"))
    menu_line = "Titres de séjour, tapez 2."
    assert sum(menu_line in h for h in result.heard) == 2
    assert result.queues[0] == "loire-immigration"


async def test_two_invalid_inputs_go_to_reception(harness: Harness) -> None:
    """Two invalid keys: the caller is sent to reception."""
    result = await call_through(harness, Press("7"), Press("9"))
    assert "Ce choix n'est pas valide." in result.heard
    assert result.queues[0] == "loire-reception"


async def test_silence_twice_goes_to_reception(harness: Harness) -> None:
    """Two silences: reception too."""
    result = await call_through(harness, Silence(), Silence())
    assert "Nous n'avons pas entendu votre choix." in result.heard
    assert result.queues[0] == "loire-reception"


async def test_low_confidence_asks_for_confirmation(harness: Harness) -> None:
    """A low-confidence match is confirmed once; 'oui' routes."""
    result = await call_through(harness, Say("titre de séjour", confidence=0.3), Say("oui"))
    assert any("Vous souhaitez joindre le bureau de l'immigration" in h for h in result.heard)
    assert result.queues[0] == "loire-immigration"


async def test_ambiguous_speech_asks_for_a_key(harness: Harness) -> None:
    """Two services equally matched: the caller is asked to press the service's key."""
    result = await call_through(harness, Say("crise étranger"), Press("1"))
    assert any("taper le numéro du service" in h for h in result.heard)
    assert result.queues[0] == "loire-crisis"


async def test_path_is_rebuilt_from_events(harness: Harness) -> None:
    """Every step is an event: the path of a call can be read back from its CallSid."""
    from ivr import keys

    result = await call_through(harness, Press("8"), Press("4"))
    kinds = await _events(harness.app[keys.POOL], result.call_sid)
    assert kinds[:3] == ["menu", "failure", "choice"]
    assert "status" in kinds


@pytest.mark.parametrize("moment", [
    "2026-11-25T19:00:00", "2026-11-25T07:59", "2026-11-29T11:00", "2026-12-25T10:00",
    "2026-07-14T10:00", "2026-04-06T10:00", "2026-03-29T10:00", "2026-10-25T10:00"])
async def test_closed_message(settings: Settings, flow: Flow, db_url: str, moment: str) -> None:
    """Outside opening hours the caller hears the hours, the website and 17/112, then hang-up."""
    async with running(settings, flow, db_url, paris(moment)) as h:
        result = await call_through(h)
    assert "du lundi au vendredi" in result.heard_text
    assert "17 ou le 112" in result.heard_text
    assert result.queues == []


@pytest.mark.parametrize("moment", ["2026-03-30T08:00", "2026-10-26T08:00"])
async def test_open_on_monday_after_clock_change(settings: Settings, flow: Flow, db_url: str,
                                                 moment: str) -> None:
    """The Mondays after the clock changes open at 08:00 Paris time."""
    async with running(settings, flow, db_url, paris(moment)) as h:
        result = await call_through(h, Press("2"))
    assert result.queues[0] == "loire-immigration"


async def test_crisis_on_off_and_expiry(harness: Harness) -> None:
    """On: the announcement plays first and crisis is offered first; off or expired: gone."""
    from ivr import keys

    pool = harness.app[keys.POOL]
    message = "Inondations dans le Roannais : consultez loire point gouv point f r."
    now = harness.clock.now()
    await crisis.switch(pool, active=True, message=message, until=now + timedelta(hours=1),
                        now=now, by="test")
    on = await call_through(harness, Press("1"))
    # After the greeting, the offer of English (issue 16) and the notice (issue 15).
    assert on.heard[3] == "Message important de la préfecture."
    assert on.heard[4] == message
    assert await pool.fetchval("SELECT crisis FROM calls WHERE call_sid = $1", on.call_sid)
    harness.clock.advance(3600)
    expired = await call_through(harness, Press("1"))
    assert message not in expired.heard
    await crisis.switch(pool, active=True, message=message, until=None,
                        now=harness.clock.now(), by="test")
    await crisis.switch(pool, active=False, message=None, until=None,
                        now=harness.clock.now(), by="test")
    off = await call_through(harness, Press("1"))
    assert message not in off.heard
    changes = await pool.fetchval("SELECT count(*) FROM crisis_changes")
    assert changes == 3
