"""The harsher simulator against the real server: Twilio's timing as it really is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestServer

from ivr import keys
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.http import Latency
from ivr.simulator.script import CallerScript, Press
from tests.conftest import OPEN, paris


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
    assert (row["outcome"], row["wait_seconds"], row["rings"], row["target_met"]) == (
        "answered", 0.0, 1, True)
