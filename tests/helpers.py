"""Small helpers shared by tests: signing requests and building Twilio's parameters."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient
from twilio.request_validator import RequestValidator

from ivr.flow.model import Flow
from ivr.flow.speaking import say_seconds
from ivr.simulator.agent import KEY_AFTER_PROMPT
from ivr.simulator.harness import Harness
from ivr.simulator.script import CallerScript, CallResult, Input
from ivr.views.agent import KEY_PROMPT
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN

UNANSWERED_WORDS = "rappeler plus tard"


def key_seconds(flow: Flow, service: str) -> float:
    """How long a live standardist takes to take an offer once their phone answers."""
    label = flow.services[service].label
    return say_seconds(KEY_PROMPT.format(label=label)) + KEY_AFTER_PROMPT


def call_params(call_sid: str = "CA" + "1" * 32, **extra: str) -> dict[str, str]:
    """The parameters Twilio sends with every voice request."""
    return {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": "+33611223344",
            "To": "+33477481234", "Caller": "+33611223344", "Called": "+33477481234",
            "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01",
            **extra}


def signature(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature as Twilio computes it."""
    value: str = RequestValidator(token).compute_signature(url, params)
    return value


async def signed_post(client: TestClient[Any, Any], public_url: str, path: str,
                      params: dict[str, str], token: str = AUTH_TOKEN) -> tuple[int, str]:
    """POST `params` to `path`, signed for `public_url` + `path`."""
    headers = {"X-Twilio-Signature": signature(public_url + path, params, token)}
    response = await client.post(path, data=params, headers=headers)
    return response.status, await response.text()


async def call_through(h: Harness, *inputs: Input, hangup_after: float = 300) -> CallResult:
    """One simulated call with these inputs, once everything it set off has settled."""
    result = await h.twilio.call(CallerScript(inputs=inputs, hangup_after=hangup_after))
    await h.twilio.settle()
    assert result.error is None, result.transcript
    return result


def lived_outcome(result: CallResult, target_ring: int) -> str:
    """What the caller lived, from the simulator's side only (never from the server's data)."""
    if result.answered_by is not None:
        assert result.rings is not None
        return "met" if result.rings < target_ring else "missed"
    if UNANSWERED_WORDS in result.heard_text:
        return "unanswered"
    if result.queues and result.ended_by == "caller":
        # Hung up while waiting for a human, even between two queues during an overflow.
        return "abandoned"
    return "left_before_queue"


async def until(check: list[dict[str, str]], count: int, seconds: float) -> None:
    """Wait on the wall clock until `check` holds `count` items, at most `seconds`."""
    for _ in range(int(seconds / 0.02)):
        if len(check) >= count:
            return
        await asyncio.sleep(0.02)


class HandClock:
    """The app's time, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        """The current time."""
        return self.at
