"""The simulator itself: its signatures, its TwiML checks and its virtual clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.request_validator import RequestValidator

from ivr.clock import Wake
from ivr.simulator.clock import VirtualClock
from ivr.simulator.script import CallerScript, CallResult, Input, Press, Say
from ivr.simulator.twilio import FakeTwilio
from ivr.simulator.twiml_check import (
    BAD_CONTENT_TYPE,
    HTTP_FAILURE,
    PARSE_FAILURE,
    SCHEMA_INVALID,
    TwimlError,
    parse,
)
from tests.conftest import AUTH_TOKEN
from tests.helpers import signature


def test_signatures_verify_with_twilio_validator() -> None:
    """What the simulator signs, twilio's RequestValidator accepts (and rejects when altered)."""
    url = "https://ivr.example.org/twilio/gather?seq=1&step=menu"
    params = {"CallSid": "CA1", "Digits": "2", "SpeechResult": "titre de séjour"}
    validator = RequestValidator(AUTH_TOKEN)
    assert validator.validate(url, params, signature(url, params))
    assert not validator.validate(url, {**params, "Digits": "3"}, signature(url, params))


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (b"<Response><Say>ok</Say></Response>", "text/html", 200, BAD_CONTENT_TYPE),
    (b"<Response><Say>ok</Say>", "application/xml", 200, PARSE_FAILURE),
    (b"not xml at all", "text/xml", 200, PARSE_FAILURE),
    (b"<Reply/>", "text/xml", 200, PARSE_FAILURE),
    (b"<Response><Shout>x</Shout></Response>", "text/xml", 200, SCHEMA_INVALID),
    (b"<Response><Gather><Dial>1</Dial></Gather></Response>", "text/xml", 200, SCHEMA_INVALID),
    (b'<Response><Gather input="fax"/></Response>', "text/xml", 200, SCHEMA_INVALID),
    (b'<Response><Pause length="-3"/></Response>', "text/xml", 200, SCHEMA_INVALID),
    (b'<Response><Say colour="red">x</Say></Response>', "text/xml", 200, SCHEMA_INVALID),
    (b"<Response><Say></Say></Response>", "text/xml", 200, SCHEMA_INVALID),
    (b"<Response/>", "text/xml", 500, HTTP_FAILURE),
])
def test_rejected_twiml(body: bytes, content_type: str, status: int, code: int) -> None:
    """Each document Twilio would refuse raises its Twilio error code."""
    with pytest.raises(TwimlError) as caught:
        parse(body, content_type, status)
    assert caught.value.code == code


def test_leave_outside_wait_url_is_refused_in_queue_url() -> None:
    """<Queue url> documents may only Play, Say, Pause or Redirect."""
    from ivr.simulator.twiml_check import QUEUE_URL_VERBS

    with pytest.raises(TwimlError):
        parse(b"<Response><Enqueue>q</Enqueue></Response>", "text/xml", 200, QUEUE_URL_VERBS)
    verbs = parse(b'<Response><Pause length="2"/></Response>', "text/xml", 200, QUEUE_URL_VERBS)
    assert verbs[0].attrs == {"length": "2"}


async def test_virtual_clock_runs_long_waits_at_once() -> None:
    """Two actors sleeping 40 s and 25 s finish in order at those virtual times, in no time."""
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    clock = VirtualClock(start)
    seen: list[tuple[str, float]] = []

    async def actor(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        seen.append((name, (clock.now() - start).total_seconds()))

    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.gather(clock.spawn(actor("long", 40)), clock.spawn(actor("short", 25)))
    assert seen == [("short", 25.0), ("long", 40.0)]
    assert loop.time() - began < 5


async def test_wake_ends_a_sleep_early() -> None:
    """A Wake fired by another actor ends a long sleep at the moment it fires."""
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    clock = VirtualClock(start)
    wake = Wake()
    woken: list[tuple[bool, float]] = []

    async def waiter() -> None:
        early = await clock.sleep(600, wake)
        woken.append((early, (clock.now() - start).total_seconds()))

    async def agent() -> None:
        await clock.sleep(12)
        wake.fire()

    await asyncio.gather(clock.spawn(waiter()), clock.spawn(agent()))
    assert woken == [(True, 12.0)]


# A 42-character <Say> lasts 3 s at the simulator's 14 characters a second.
_PROMPT = "Pour le service des cartes grises, tapez 3"


async def _one_gather(gather_attrs: str, answer: Input) -> tuple[CallResult, dict[str, str]]:
    """Run one call against a tiny server answering a fixed <Gather>; return what it got."""
    posted: dict[str, str] = {}

    async def voice(request: web.Request) -> web.Response:
        body = (f'<Response><Gather action="/done" {gather_attrs}><Say>{_PROMPT}</Say>'
                f"<Say>{_PROMPT}</Say></Gather></Response>")
        return web.Response(text=body, content_type="text/xml")

    async def done(request: web.Request) -> web.Response:
        posted.update({k: str(v) for k, v in (await request.post()).items()})
        posted["at"] = str((clock.now() - start).total_seconds())
        return web.Response(text="<Response><Hangup/></Response>", content_type="text/xml")

    app = web.Application()
    app.router.add_post("/twilio/voice", voice)
    app.router.add_post("/done", done)
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    clock = VirtualClock(start)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        twilio = FakeTwilio(base_url=str(server.make_url("")), auth_token=AUTH_TOKEN,
                            account_sid="AC" + "0" * 32, clock=clock, session=http,
                            status_callback=None)
        result = await twilio.call(CallerScript(inputs=(answer,)))
    return result, posted


async def test_key_during_gather_prompt_cuts_it_and_posts_at_once() -> None:
    """A key 1 s into a nested <Say> stops it: posted 1.5 s in, the rest never heard."""
    result, posted = await _one_gather('input="dtmf speech"', Press("3", at=1.0))
    assert result.cuts == [(_PROMPT, 1.0)]
    assert result.heard == [_PROMPT]
    assert posted["Digits"] == "3"
    assert float(posted["at"]) == 1.5


async def test_speech_cuts_in_the_second_prompt() -> None:
    """Speech starting 4 s in cuts the second <Say> 1 s into it, then is posted."""
    result, posted = await _one_gather('input="dtmf speech"', Say("carte grise", at=4.0))
    assert result.cuts == [(_PROMPT, 1.0)]
    assert result.heard == [_PROMPT, _PROMPT]
    assert posted["SpeechResult"] == "carte grise"


@pytest.mark.parametrize(("attrs", "answer"), [
    ('input="dtmf speech" bargeIn="false"', Press("3", at=1.0)),
    ('input="dtmf speech" bargeIn="false"', Say("carte grise", at=1.0)),
    ('input="dtmf"', Say("carte grise", at=1.0)),
])
async def test_no_barge_in_plays_the_prompts_to_the_end(attrs: str, answer: Input) -> None:
    """bargeIn="false", or an input kind the <Gather> does not take: nothing is cut."""
    result, posted = await _one_gather(attrs, answer)
    assert result.cuts == []
    assert result.heard == [_PROMPT, _PROMPT]
    assert float(posted["at"]) >= 6.0


async def test_waiting_for_the_end_is_still_available() -> None:
    """Without `at`, the caller waits for the end of the prompts, as before."""
    result, posted = await _one_gather('input="dtmf speech"', Press("3"))
    assert result.cuts == []
    assert posted["Digits"] == "3"
    assert float(posted["at"]) == 6.5


async def test_key_after_the_prompts_within_the_timeout() -> None:
    """A key timed 2 s after the prompts' end is taken then; past the timeout it is silence."""
    _, posted = await _one_gather('input="dtmf" timeout="5"', Press("3", at=8.0))
    assert (posted["Digits"], float(posted["at"])) == ("3", 8.5)
    result, late = await _one_gather('input="dtmf" timeout="5"', Press("3", at=12.0))
    assert late == {}
    assert any("ne dit rien" in line for line in result.transcript.lines)
