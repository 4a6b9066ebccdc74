"""The harsher simulator against the real server: Twilio's timing as it really is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ivr import keys
from ivr.dialer import Dialer
from ivr.flow.model import Flow
from ivr.ringback import RATE, pcm16_wav
from ivr.settings import Settings
from ivr.simulator.clock import VirtualClock
from ivr.simulator.harness import Harness, running
from ivr.simulator.http import Disorder, Latency
from ivr.simulator.script import AgentScript, CallerScript, Press, Silence
from ivr.simulator.twilio import FakeTwilio
from ivr.store import agents
from tests.conftest import AUTH_TOKEN, OPEN, paris


def _pool(h: Harness) -> asyncpg.Pool:
    return h.app[keys.POOL]


@asynccontextmanager
async def _agent_twiml(queue: str, pickup_url: str) -> AsyncIterator[str]:
    """A stand-in agent leg's TwiML: wait on `queue` up to 60 s, pickup at `pickup_url`."""

    async def answer(request: web.Request) -> web.Response:
        body = (f'<Response><Dial timeout="60"><Queue url="{pickup_url}">{queue}</Queue>'
                "</Dial></Response>")
        return web.Response(text=body, content_type="text/xml")

    app = web.Application()
    app.router.add_post("/agent", answer)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("/agent"))


async def test_agent_waiting_on_the_queue_bridges_at_once(settings: Settings, flow: Flow,
                                                          db_url: str) -> None:
    """An agent leg already on <Dial><Queue> takes a caller who joins at once, before any
    waitUrl: the server counts the pickup, answered after a 0 s wait in ring 1."""
    async with running(settings, flow, db_url, paris(OPEN), latency=Latency(0.1)) as h:
        pickup = h.settings.public_url + "/twilio/queue/pickup"
        async with _agent_twiml(flow.queue_name("immigration"), pickup) as agent_url:
            h.twilio.start_agent_leg({"To": "+33477000001", "From": "+33477000000",
                                      "Url": agent_url})
            result = await h.twilio.call(CallerScript(inputs=(Press("2"),), talk_seconds=10))
            await h.twilio.settle()
        row = await _pool(h).fetchrow("SELECT * FROM calls WHERE call_sid = $1",
                                      result.call_sid)
    assert result.error is None, str(result.transcript)
    assert result.answered_by == "+33477000001"
    assert (result.queue_wait, result.rings, result.queue_result) == (0.0, 1, "bridged")
    assert not any("/queue/wait" in path for path, _ in result.webhooks)
    assert row is not None
    # The server's wait runs from its <Enqueue> answer (issue 9.1): the answer's way back and
    # the pickup request's way there (0.05 s each at 0.1 s per round trip) are in it.
    assert (row["outcome"], row["rings"], row["target_met"]) == ("answered", 1, True)
    assert row["wait_seconds"] == pytest.approx(0.1)


@asynccontextmanager
async def _alone(app: web.Application) -> AsyncIterator[tuple[FakeTwilio, VirtualClock, str]]:
    """A FakeTwilio on virtual time in front of a tiny stand-in server."""
    clock = VirtualClock(datetime(2026, 11, 25, 9, tzinfo=UTC))
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        base = str(server.make_url(""))
        yield FakeTwilio(base_url=base, auth_token=AUTH_TOKEN, account_sid="AC" + "0" * 32,
                         clock=clock, session=http, status_callback=None), clock, base


def _agent_leg_server(seen: list[tuple[str, str, float]], clock: list[VirtualClock]) -> (
        web.Application):
    """Answers an agent leg with "press a key" (<Gather>, 3 s) then a closing <Say>; notes
    every request (path, CallStatus or Digits, seconds since 09:00)."""
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)

    async def note(request: web.Request) -> dict[str, str]:
        data = {k: str(v) for k, v in (await request.post()).items()}
        at = (clock[0].now() - start).total_seconds()
        seen.append((request.path, data.get("Digits", data.get("CallStatus", "")), at))
        return data

    async def answer(request: web.Request) -> web.Response:
        await note(request)
        return web.Response(content_type="text/xml", text=(
            '<Response><Gather numDigits="1" timeout="3" action="/took"><Say>Appuyez sur une '
            "touche pour prendre l'appel.</Say></Gather><Say>Fin.</Say><Hangup/></Response>"))

    async def took(request: web.Request) -> web.Response:
        await note(request)
        return web.Response(content_type="text/xml", text="<Response><Hangup/></Response>")

    async def status(request: web.Request) -> web.Response:
        await note(request)
        return web.Response(content_type="text/xml", text="<Response/>")

    app = web.Application()
    app.router.add_post("/agent", answer)
    app.router.add_post("/took", took)
    app.router.add_post("/status", status)
    return app


async def _ring_agent(script: AgentScript, *, rest_timeout: int = 15,
                      slack: float = 0.0) -> list[tuple[str, str, float]]:
    """Place one agent leg (REST Timeout `rest_timeout`) and return what the stand-in saw."""
    seen: list[tuple[str, str, float]] = []
    clocks: list[VirtualClock] = []
    async with _alone(_agent_leg_server(seen, clocks)) as (twilio, clock, base):
        clocks.append(clock)
        twilio.timeout_slack = slack
        twilio.agent_scripts["+33477000001"] = script
        twilio.start_agent_leg({"To": "+33477000001", "From": "+33477000000",
                                "Url": base + "/agent", "Timeout": str(rest_timeout),
                                "StatusCallback": base + "/status",
                                "StatusCallbackEvent": "initiated ringing answered completed"})
        await twilio.settle()
    return seen


async def test_voicemail_answers_at_once_and_never_presses_a_key() -> None:
    """A voicemail answers at 0 s; its <Gather> times out and falls through to the next verb."""
    seen = await _ring_agent(AgentScript("voicemail"))
    assert ("/agent", "in-progress", 0.0) in seen
    assert not any(path == "/took" for path, _, _ in seen)
    # Prompt (about 3 s), 3 s of timeout, then the fall-through <Say>; then the final callback.
    completed = [at for path, status, at in seen if status == "completed"]
    assert len(completed) == 1
    assert completed[0] > 6.0


async def test_standardist_presses_the_key() -> None:
    """A standardist answers after 3 s and presses 1 when asked: the action gets Digits=1."""
    seen = await _ring_agent(AgentScript(answer_after=3))
    assert [d for path, d, _ in seen if path == "/took"] == ["1"]


async def test_rest_timeout_runs_long_and_a_late_answer() -> None:
    """Twilio may ring 5 s past Timeout: an answer 3 s late is taken; without slack, no-answer."""
    strict = await _ring_agent(AgentScript(answer_after=18), slack=0.0)
    assert ("/status", "no-answer", 15.0) in strict
    assert not any(path == "/agent" for path, _, _ in strict)
    late = await _ring_agent(AgentScript(answer_after=18), slack=5.0)
    assert ("/agent", "in-progress", 18.0) in late
    never = await _ring_agent(AgentScript("never"), slack=5.0)
    assert ("/status", "no-answer", 20.0) in never


async def test_final_callback_can_be_lost() -> None:
    """An agent leg whose final callback is lost sends every other callback, not 'completed'."""
    seen = await _ring_agent(AgentScript(answer_after=2, final_callback=False))
    statuses = [status for path, status, _ in seen if path == "/status"]
    assert statuses == ["queued", "ringing", "in-progress"]


async def _morning(settings: Settings, flow: Flow, db_url: str, disorder: Disorder | None,
                   run: int) -> (
        tuple[list[tuple[str | None, str]], dict[tuple[str, tuple[tuple[str, str], ...]], float],
              dict[str, str]]):
    """Four calls in a row under latency: each call's outcome, the counters, agents' statuses
    (run `run` on the shared test database, with its own agents)."""
    patient = settings.with_overrides(offer_timeout_seconds=15)
    async with running(patient, flow, db_url, paris(OPEN), latency=Latency(0.05, 0.15),
                       disorder=disorder) as h:
        pool = _pool(h)
        staff = (("X", ["crisis"], AgentScript(answer_after=6, talk_seconds=8)),
                 ("Never", ["immigration"], AgentScript("never")),
                 ("Y", ["immigration", "road_safety"], AgentScript(answer_after=4,
                                                                   talk_seconds=8)))
        ids = {}
        for i, (name, services, agent_script) in enumerate(staff):
            contact = f"+334770{run}000{i}"
            agent = await agents.add(pool, f"{name}{run}", contact, services, h.clock.now())
            await agents.set_status(pool, agent.id, "available", h.clock.now())
            ids[agent.id] = name
            h.twilio.agent_scripts[contact] = agent_script
            h.clock.advance(30)  # X idle longest, then Never, then Y
        callers = (CallerScript(inputs=(Press("1"),), talk_seconds=8),
                   CallerScript(inputs=(Press("2"),), talk_seconds=8),
                   CallerScript(inputs=(Press("3"),), talk_seconds=8),
                   CallerScript(inputs=(Silence(),), hangup_after=3))
        sids = []
        for script in callers:
            result = await h.twilio.call(script)
            await h.twilio.settle()
            assert result.error is None, str(result.transcript)
            sids.append(result.call_sid)
            h.clock.advance(patient.wrap_up_seconds + 5)
        rows = {r["call_sid"]: r for r in await pool.fetch("SELECT * FROM calls")}
        outcomes = [(rows[sid]["outcome"], rows[sid]["state"]) for sid in sids]
        counters = {(s.name, tuple(sorted(s.labels.items()))): s.value
                    for metric in h.app[keys.METRICS].registry.collect()
                    for s in metric.samples
                    if s.name in ("ivr_calls_total", "ivr_offers_total")}
        statuses = {ids[a.id]: a.status for a in await agents.list_all(pool, h.clock.now())
                    if a.id in ids}
    return outcomes, counters, statuses


async def test_duplicated_and_shuffled_callbacks_change_nothing(settings: Settings, flow: Flow,
                                                                db_url: str) -> None:
    """Callbacks sent twice and out of order during live calls: same outcomes, counters and
    agents' statuses as a clean run."""
    clean = await _morning(settings, flow, db_url, None, 1)
    disorder = Disorder(twice=0.7, max_delay=2.0)
    messy = await _morning(settings, flow, db_url, disorder, 2)
    assert disorder.copies > disorder.callbacks >= 10
    assert clean[0] == [("answered", "answered"), ("answered", "answered"),
                        ("answered", "answered"), ("menu_hangup", "ended")]
    assert messy == clean


async def test_hold_music_lasts_as_long_as_the_file() -> None:
    """A WAV of ours plays its own length whatever its name; outside audio plays the length
    declared for it, else the default music length."""
    jingle = pcm16_wav([0] * (RATE * 7))  # 7 s

    async def voice(request: web.Request) -> web.Response:
        return web.Response(content_type="text/xml", text=(
            "<Response><Play>/music/jingle</Play><Play>http://example.invalid/a.mp3</Play>"
            "<Play>http://example.invalid/b.mp3</Play><Hangup/></Response>"))

    async def audio(request: web.Request) -> web.Response:
        return web.Response(body=jingle, content_type="audio/wav")

    app = web.Application()
    app.router.add_post("/twilio/voice", voice)
    app.router.add_get("/music/jingle", audio)
    async with _alone(app) as (twilio, _, _):
        twilio.music_seconds = 30.0
        twilio.audio_lengths["http://example.invalid/a.mp3"] = 42.0
        result = await twilio.call(CallerScript())
    plays = [line.split("] ", 1)[1] for line in result.transcript.lines if "♪" in line]
    assert [p.rsplit(" ", 1)[1] for p in plays] == ["(7.0s)", "(42.0s)", "(30.0s)"]
    ended = result.transcript.lines[-1]
    assert ended.startswith("[   79.")


async def test_call_resource_reports_a_status_whose_callback_was_lost(
        settings: Settings, flow: Flow, db_url: str) -> None:
    """The REST stand-in answers GET .../Calls/{sid}.json as Twilio does: an agent leg's
    final status even when its final callback was lost, and nothing for an unknown call."""
    async with running(settings, flow, db_url, paris(OPEN)) as h:
        pool = _pool(h)
        agent = await agents.add(pool, "A", "+33477000001", ["immigration"], h.clock.now())
        await agents.set_status(pool, agent.id, "available", h.clock.now())
        h.twilio.agent_scripts["+33477000001"] = AgentScript(
            answer_after=2, talk_seconds=5, final_callback=False)
        await h.twilio.call(CallerScript(inputs=(Press("2"),), talk_seconds=5))
        await h.twilio.settle()
        dialer = Dialer(h.settings)
        try:
            found = await dialer.call_status(h.twilio.agent_calls[0]["Sid"])
            unknown = await dialer.call_status("CA" + "0" * 32)
        finally:
            await dialer.close()
    assert (found, unknown) == ("completed", None)
