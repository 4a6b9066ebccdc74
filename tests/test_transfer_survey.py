"""Transfers to another service and the post-call survey, played through the simulator."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ivr import acd, keys
from ivr.flow.model import Flow
from ivr.rings import RingPolicy
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.script import AgentScript, CallerScript, CallResult, Press
from ivr.store import agents, survey, transfers
from tests.conftest import OPEN, paris
from tests.console_helpers import csrf_of, make_agent
from tests.helpers import key_seconds

IMMIGRATION = (Press("2"),)
ROAD_SAFETY = (Press("3"),)
CLAIRE, PAUL = "+33477000001", "+33477000002"


@pytest.fixture
async def harness(settings: Settings, flow: Flow, db_url: str) -> AsyncIterator[Harness]:
    """The server on a Wednesday morning, offers ringing up to 30 s."""
    patient = settings.with_overrides(offer_timeout_seconds=30)
    async with running(patient, flow, db_url, paris(OPEN)) as h:
        yield h


def _pool(h: Harness) -> asyncpg.Pool:
    return h.app[keys.POOL]


def _sample(h: Harness, name: str, labels: dict[str, str]) -> float:
    return h.app[keys.METRICS].registry.get_sample_value(name, labels) or 0.0


async def _agent(h: Harness, contact: str, services: list[str], script: AgentScript, *,
                 available: bool = True) -> int:
    agent = await agents.add(_pool(h), f"Agent {contact[-2:]}", contact, services,
                             h.clock.now())
    if available:
        await agents.set_status(_pool(h), agent.id, "available", h.clock.now())
    h.twilio.agent_scripts[contact] = script
    return agent.id


async def _one(h: Harness, script: CallerScript) -> CallResult:
    result = await h.twilio.call(script)
    await h.twilio.settle()
    assert result.error is None, result.transcript
    return result


async def _transfer(h: Harness, call_sid: str, body: object) -> tuple[int, dict[str, str]]:
    url = f"{h.settings.public_url}/admin/calls/{call_sid}/transfer"
    headers = {"Authorization": f"Bearer {h.settings.admin_token}"}
    async with h.twilio.session.post(url, json=body, headers=headers) as response:
        return response.status, await response.json()


async def test_transfer_keeps_first_pickup_and_measures_second_wait(harness: Harness) -> None:
    """Picked up in ring 2, transferred after 10 s: ring 2 stays; the second wait is apart."""
    h = harness
    # Claire's phone rings, then she presses the key: 8 s in all.
    await _agent(h, CLAIRE, ["immigration"],
                 AgentScript(answer_after=8 - key_seconds(h.app[keys.FLOW], "immigration"),
                             talk_seconds=60, transfer_to="road_safety",
                             transfer_after=10))
    await _agent(h, PAUL, ["road_safety"], AgentScript(answer_after=6, talk_seconds=30))
    result = await _one(h, CallerScript(inputs=IMMIGRATION, talk_seconds=120))
    call = await _pool(h).fetchrow("SELECT * FROM calls WHERE call_sid = $1", result.call_sid)
    moved = await _pool(h).fetchrow("SELECT * FROM transfers WHERE call_sid = $1",
                                    result.call_sid)
    assert call is not None
    assert moved is not None
    assert (call["outcome"], call["rings"], call["target_met"]) == ("answered", 2, True)
    assert call["wait_seconds"] == pytest.approx(8.0, abs=0.01)
    # The admin token names the actor; the standardist who asked is kept beside it.
    assert (moved["from_service"], moved["to_service"], moved["by_whom"]) == \
        ("immigration", "road_safety", f"admin (pour {CLAIRE})")
    assert moved["outcome"] == "answered"
    assert result.second_wait is not None
    assert moved["wait_seconds"] == pytest.approx(result.second_wait, abs=0.01)
    assert moved["rings"] == RingPolicy().ring_of(result.second_wait)
    assert result.rings == 2
    assert result.answered_by == CLAIRE
    label = h.app[keys.FLOW].services["road_safety"].label
    assert f"Nous vous mettons en relation avec {label}" in result.heard_text
    assert len(result.transfers) == 1
    assert _sample(h, "ivr_transfers_total",
                   {"from_service": "immigration", "to_service": "road_safety"}) == 1
    assert _sample(h, "ivr_transfer_wait_seconds_count",
                   {"service": "road_safety", "outcome": "answered"}) == 1
    assert _sample(h, "ivr_calls_total", {"service": "immigration", "outcome": "answered"}) == 1
    audit = await _pool(h).fetchval("SELECT count(*) FROM audit_log WHERE action = "
                                    "'call.transfer'")
    assert audit == 1
    # Both standardists' offers ended: the first one's leg ended with the transfer.
    states = await _pool(h).fetch("SELECT state FROM offers ORDER BY id")
    assert [r["state"] for r in states] == ["completed", "completed"]


async def test_transferred_caller_is_offered_before_later_arrivals(harness: Harness) -> None:
    """A later road-safety caller waits behind the transferred one (kept by first entry)."""
    h = harness
    await _agent(h, CLAIRE, ["immigration"],
                 AgentScript(answer_after=3, talk_seconds=60, transfer_to="road_safety",
                             transfer_after=30))
    # Paul is on another call (busy): both callers wait in the road-safety queue.
    paul = await _agent(h, PAUL, ["road_safety"], AgentScript(answer_after=2, talk_seconds=20),
                        available=False)
    await agents.set_status(_pool(h), paul, "busy", h.clock.now())
    # call() spawns the caller's leg as an actor; the task only waits for its result.
    first = asyncio.create_task(h.twilio.call(CallerScript(inputs=IMMIGRATION,
                                                           talk_seconds=200)))
    later = asyncio.create_task(h.twilio.call(CallerScript(inputs=ROAD_SAFETY, hangup_after=600,
                                                     talk_seconds=20), after=20))

    async def paul_frees_up() -> tuple[list[str], str, str | None]:
        await h.clock.sleep(70)
        waiting = await _pool(h).fetch(
            "SELECT call_sid FROM calls WHERE state = 'queued' AND service = 'road_safety' "
            "ORDER BY queued_at")
        moved = await _pool(h).fetchval("SELECT call_sid FROM transfers")
        await agents.set_status(_pool(h), paul, "available", h.clock.now())
        await acd.offer_waiting(h.app[keys.DISPATCHER].deps)
        offered = await _pool(h).fetchval(
            "SELECT for_call_sid FROM offers WHERE service = 'road_safety' ORDER BY id LIMIT 1")
        return [r["call_sid"] for r in waiting], moved, offered

    waiting, moved, offered = await h.clock.spawn(paul_frees_up())
    a, b = await first, await later
    await h.twilio.settle()
    assert moved == a.call_sid
    assert waiting == [a.call_sid, b.call_sid]
    assert offered == a.call_sid


async def test_transfer_refused_changes_nothing(harness: Harness) -> None:
    """An ended call gets 409, an unknown service 400, an unknown call 404; nothing moves."""
    h = harness
    await _agent(h, CLAIRE, ["immigration"], AgentScript(answer_after=3, talk_seconds=20))
    result = await _one(h, CallerScript(inputs=IMMIGRATION, talk_seconds=20))
    before = await _pool(h).fetchrow("SELECT * FROM calls WHERE call_sid = $1", result.call_sid)
    assert await _transfer(h, result.call_sid, {"service": "road_safety", "by": "x"}) == \
        (409, {"error": "call is over"})
    status, _ = await _transfer(h, result.call_sid, {"service": "nowhere"})
    assert status == 400
    status, _ = await _transfer(h, "CA" + "0" * 32, {"service": "road_safety"})
    assert status == 404
    after = await _pool(h).fetchrow("SELECT * FROM calls WHERE call_sid = $1", result.call_sid)
    assert dict(after or {}) == dict(before or {})
    assert await _pool(h).fetchval("SELECT count(*) FROM transfers") == 0


async def test_survey_answer_counted_once_even_when_repeated(harness: Harness) -> None:
    """The standardist hangs up first; 4 then yes: stored once, counted once, despite retries."""
    h = harness
    await _agent(h, CLAIRE, ["immigration"], AgentScript(answer_after=3, talk_seconds=20))
    result = await _one(h, CallerScript(inputs=(*IMMIGRATION, Press("4"), Press("1")),
                                        talk_seconds=60))
    assert result.hung_up_first == "agent"
    assert "Êtes-vous satisfait" in result.heard_text
    survey_path = next(p for p, _ in result.webhooks if p.startswith("/twilio/survey"))
    params = {"CallSid": result.call_sid, "AccountSid": h.settings.twilio_account_sid,
              "CallStatus": "in-progress", "Digits": "4"}
    for _ in range(2):  # Twilio retries the action and the survey's key
        status, verbs = await h.twilio.post(h.settings.public_url + survey_path, params)
        assert status == 200
        assert verbs
        status, _ = await h.twilio.post(
            f"{h.settings.public_url}/twilio/queue/done?service=immigration",
            {**params, "QueueResult": "bridged", "QueueTime": "3"})
        assert status == 200
    rows = await _pool(h).fetch(
        "SELECT question, answer, service FROM survey_answers WHERE call_sid = $1 "
        "ORDER BY question", result.call_sid)
    assert [tuple(r) for r in rows] == [("oriented", "yes", "immigration"),
                                        ("satisfaction", "4", "immigration")]
    assert _sample(h, "ivr_survey_answers_total", {"service": "immigration",
                                                   "question": "satisfaction",
                                                   "answer": "4"}) == 1
    assert _sample(h, "ivr_survey_asked_total", {"service": "immigration"}) == 1


async def test_caller_hanging_up_first_hears_no_survey(harness: Harness) -> None:
    """The caller ends the conversation: no question, no answer, nobody counted as asked."""
    h = harness
    await _agent(h, CLAIRE, ["immigration"], AgentScript(answer_after=3, talk_seconds=60))
    result = await _one(h, CallerScript(inputs=(*IMMIGRATION, Press("5")), talk_seconds=20))
    assert result.hung_up_first == "caller"
    assert "satisfait" not in result.heard_text
    assert await _pool(h).fetchval("SELECT count(*) FROM survey_answers") == 0
    assert _sample(h, "ivr_survey_asked_total", {"service": "immigration"}) == 0


async def test_wrong_key_or_silence_is_no_answer(harness: Harness) -> None:
    """A wrong key ends the survey politely and stores nothing; the caller counts as asked."""
    h = harness
    await _agent(h, CLAIRE, ["immigration"], AgentScript(answer_after=3, talk_seconds=20))
    result = await _one(h, CallerScript(inputs=(*IMMIGRATION, Press("9")), talk_seconds=60))
    assert "Merci pour votre réponse" in result.heard_text
    assert await _pool(h).fetchval("SELECT count(*) FROM survey_answers") == 0
    assert _sample(h, "ivr_survey_asked_total", {"service": "immigration"}) == 1


async def test_survey_disabled_call_ends_as_before(settings: Settings, flow: Flow,
                                                  db_url: str) -> None:
    """Without `survey:` in the flow, the bridged call's action answers nothing more."""
    plain = dataclasses.replace(flow, survey=None)
    async with running(settings, plain, db_url, paris(OPEN)) as h:
        await _agent(h, CLAIRE, ["immigration"], AgentScript(answer_after=3, talk_seconds=20))
        result = await _one(h, CallerScript(inputs=(*IMMIGRATION, Press("4")), talk_seconds=60))
        assert result.hung_up_first == "agent"
        assert "satisfait" not in result.heard_text
        assert result.ended_by == "twilio"
        assert await _pool(h).fetchval("SELECT count(*) FROM survey_answers") == 0


async def test_simulated_day_figures_match_the_scripts(harness: Harness) -> None:
    """20 calls, every 10th transferred, every 2nd answering: PostgreSQL, /metrics and the
    console's manager page give the scripts' orientation rate and satisfaction share."""
    h = harness
    await _agent(h, CLAIRE, ["immigration"], AgentScript(answer_after=3, talk_seconds=20))
    await _agent(h, PAUL, ["road_safety"], AgentScript(answer_after=3, talk_seconds=20))
    expected_asked: dict[str, int] = {}
    expected_answers: dict[str, list[int]] = {}
    transferred = 0
    for n in range(20):
        moved = n % 10 == 9
        h.twilio.agent_scripts[CLAIRE] = AgentScript(
            answer_after=3, talk_seconds=20, transfer_to="road_safety" if moved else None,
            transfer_after=8)
        score = 1 + n % 5
        answers = (Press(str(score)), Press("1")) if n % 2 == 0 else ()
        await _one(h, CallerScript(inputs=(*IMMIGRATION, *answers), talk_seconds=60))
        h.clock.advance(60)  # the standardists' wrap-up is over before the next call
        ended_with = "road_safety" if moved else "immigration"
        transferred += moved
        expected_asked[ended_with] = expected_asked.get(ended_with, 0) + 1
        if answers:
            expected_answers.setdefault(ended_with, []).append(score)
    since, until = paris("2026-11-25T00:00"), paris("2026-11-26T00:00")
    orientation = await transfers.orientation_by_service(_pool(h), since, until)
    assert orientation == {"immigration": (20, 20 - transferred)}
    satisfaction = await survey.satisfaction_by_service(_pool(h), since, until)
    assert satisfaction == {s: (len(v), sum(1 for x in v if x >= 4))
                            for s, v in expected_answers.items()}
    async with h.twilio.session.get(f"{h.settings.public_url}/metrics") as response:
        families = {f.name: f for f in text_string_to_metric_families(await response.text())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}
    answered = samples[("ivr_calls_total", (("outcome", "answered"), ("service", "immigration")))]
    moved_out = samples[("ivr_transfers_total", (("from_service", "immigration"),
                                                 ("to_service", "road_safety")))]
    assert (answered - moved_out) / answered == 18 / 20
    for service, scores in expected_answers.items():
        counted = {dict(labels)["answer"]: v for (name, labels), v in samples.items()
                   if name == "ivr_survey_answers_total"
                   and dict(labels)["service"] == service
                   and dict(labels)["question"] == "satisfaction"}
        given, happy = sum(counted.values()), counted.get("4", 0) + counted.get("5", 0)
        assert (given, happy) == (len(scores), sum(1 for x in scores if x >= 4))
        asked = samples[("ivr_survey_asked_total", (("service", service),))]
        assert asked == expected_asked[service]
    everyone = [x for scores in expected_answers.values() for x in scores]
    page = await _manager_page(h)
    assert _figure(page, "oriented") == f"{round(100 * (20 - transferred) / 20)} %"
    assert _figure(page, "satisfied") == (
        f"{round(100 * sum(1 for x in everyone if x >= 4) / len(everyone))} % "
        f"({len(everyone)} réponses)")


async def _manager_page(h: Harness) -> str:
    """The manager's page as a signed-in manager's browser gets it."""
    await make_agent(_pool(h), "Marie", "+33477000009", ["reception"], h.clock.now(),
                     role="manager")
    base = h.settings.public_url
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(f"{base}/console/login") as form:
            token = csrf_of(await form.text())
        async with browser.post(f"{base}/console/login", data={
                "login": "Marie", "password": "mot-de-passe-1", "csrf": token}) as signed:
            assert signed.status == 200
        async with browser.get(f"{base}/console/manager") as page:
            assert page.status == 200
            return await page.text()


def _figure(page: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', page)
    assert found, page
    return html.unescape(found.group(1))
