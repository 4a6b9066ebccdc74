"""The simulator itself: its signatures, its TwiML checks and its virtual clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from twilio.request_validator import RequestValidator

from ivr.simulator.clock import VirtualClock, Wake
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
