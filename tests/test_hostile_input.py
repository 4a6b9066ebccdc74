"""Any Digits, SpeechResult or missing parameter gives valid TwiML that never echoes markup."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.app import create_app
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.twiml_check import parse
from tests.helpers import call_params, signed_post

PUBLIC = "https://ivr.prefecture.example"
MARKUP = st.sampled_from(["<Hangup/>", "</Say><Dial>+33100000000</Dial>", "&amp;", "]]>",
                          "<?xml?>", "\x00\x07\x1b", "é" * 3000, "<Response>"])
TEXT = st.one_of(st.text(max_size=300), MARKUP, st.none())
QUERIES = st.sampled_from(["", "?step=menu&failures=0&seq=1", "?step=confirm&pending=crisis",
                           "?step=confirm&pending=%3Cx%3E&failures=99&seq=-4",
                           "?step=nope&failures=x"])


def test_any_input_gives_safe_twiml(settings: Settings, flow: Flow, db_url: str) -> None:
    """Property: the gather and voice routes answer 200 TwiML without raw caller markup."""

    async def scenario(client: TestClient[Any, Any], digits: str | None, speech: str | None,
                       confidence: str | None, query: str, route: str) -> None:
        extra = {k: v for k, v in (("Digits", digits), ("SpeechResult", speech),
                                   ("Confidence", confidence)) if v is not None}
        status, body = await signed_post(client, PUBLIC, route + query, call_params(**extra))
        assert status == 200
        verbs = parse(body.encode(), "application/xml", status)
        assert verbs, body
        for hostile in ("<Hangup/>", "<Dial>", "<Response>"):
            if speech and hostile in speech:
                assert hostile not in body.split("<Response>", 1)[1]

    loop = asyncio.new_event_loop()

    async def start() -> tuple[TestClient[Any, Any], asyncpg.Pool]:
        from ivr.db.pool import create_pool

        pool = await create_pool(db_url, max_size=3)
        app = create_app(settings.with_overrides(public_url=PUBLIC), flow=flow, pool=pool)
        client = TestClient(TestServer(app))
        await client.start_server()
        return client, pool

    client, pool = loop.run_until_complete(start())

    @settings_for_ci
    @given(digits=TEXT, speech=TEXT, confidence=st.one_of(st.none(), st.sampled_from(
        ["0.1", "0.95", "nan", "-1", "abc", "1e999"])), query=QUERIES,
        route=st.sampled_from(["/twilio/gather", "/twilio/voice"]))
    def check(digits: str | None, speech: str | None, confidence: str | None, query: str,
              route: str) -> None:
        loop.run_until_complete(scenario(client, digits, speech, confidence, query, route))

    try:
        check()
    finally:
        loop.run_until_complete(client.close())
        loop.run_until_complete(pool.close())
        loop.close()


settings_for_ci = settings(max_examples=120, deadline=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_openapi_document_covers_every_admin_route(settings: Settings, flow: Flow) -> None:
    """Each /admin/ route the router serves, with its method, is an operation of the OpenAPI
    document, so schemathesis (tests/test_openapi.py) exercises a new route automatically."""
    from ivr.views.openapi import document

    app = create_app(settings, flow=flow)
    served = {(route.method.lower(), route.resource.canonical)
              for route in app.router.routes()
              if route.resource is not None and route.resource.canonical.startswith("/admin/")
              and route.method != "HEAD"}
    paths = document(list(flow.services))["paths"]
    described = {(method, path) for path, ops in paths.items() for method in ops}
    assert served == described
