"""The callback webhooks answer valid TwiML to any query and form, never a 500."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet

from ivr.app import create_app
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.twiml_check import parse
from tests.helpers import call_params, signed_post

PUBLIC = "https://ivr.prefecture.example"
ROUTES = ("/twilio/callback/request", "/twilio/callback/confirm", "/twilio/callback/agent",
          "/twilio/callback/reached", "/twilio/callback/dial-done")
QUERIES = ("", "?service=immigration", "?service=%3Cx%3E&lang=zz", "?callback=1&offer=1",
           "?callback=99999999999999999999&offer=-1&tries=x", "?callback=abc")
FORMS: tuple[dict[str, str], ...] = (
    {}, {"Digits": "1", "From": "+33611223344"}, {"Digits": "<Hangup/>", "From": "anonymous"},
    {"Digits": "0612345678#", "DialCallStatus": "no-answer"}, {"DialCallStatus": "completed"})


@pytest.fixture
async def client(settings: Settings, flow: Flow, pool: asyncpg.Pool) -> Any:
    """The app with a callback key, on the test's database."""
    keyed = settings.with_overrides(public_url=PUBLIC,
                                    callback_key=Fernet.generate_key().decode())
    app = create_app(keyed, flow=flow, pool=pool)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_hostile_callback_requests_get_valid_twiml(client: TestClient[Any, Any]) -> None:
    """Every route, query and form mix answers 200 with TwiML Twilio accepts."""
    for route in ROUTES:
        for query in QUERIES:
            for extra in FORMS:
                status, body = await signed_post(client, PUBLIC, route + query,
                                                 call_params(**extra))
                assert status == 200, (route, query, extra, body)
                parse(body.encode(), "application/xml", status)  # raises on bad TwiML


async def test_callback_series_exported_at_zero(client: TestClient[Any, Any]) -> None:
    """Callbacks by result and the pending gauge exist at 0 before any callback."""
    body = await (await client.get("/metrics")).text()
    for result in ("requested", "answered", "retry", "failed", "canceled"):
        assert f'ivr_callbacks_total{{result="{result}",service="immigration"}} 0.0' in body
    assert 'ivr_callbacks_pending{service="crisis"} 0.0' in body
    assert 'ivr_calls_total{outcome="answered_callback",service="immigration"} 0.0' in body
