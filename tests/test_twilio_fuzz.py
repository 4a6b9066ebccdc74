"""Any request to any /twilio/ route: 403, other 4xx, or valid TwiML; never a 500 or traceback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import asyncpg
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from multidict import MultiDict

from ivr.app import create_app
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.twiml_check import parse
from tests.conftest import AUTH_TOKEN
from tests.helpers import call_params, signature

PUBLIC = "https://ivr.prefecture.example"
METHODS = ["POST", "GET", "PUT", "DELETE"]
# Values Twilio never sends but a forger might: ids out of range or not ASCII, controls, size.
NASTY = st.sampled_from([
    "", "²", "٣", "99999999999999999999", "9223372036854775808", "-1", "0", "1e9", " 7 ",
    "\x00", "a\x00b", "\x07\x1b[2J", "\u202e", "\ud7ff", "é" * 5000, "x" * 70_000, "<Hangup/>",
    "nan", "inf", "1", "42", "loire-immigration", "immigration", "completed", "hangup",
    "bridged", "in-progress", "no-answer", "CA" + "f" * 32])
VALUE = st.one_of(NASTY, st.text(max_size=40))
FIELDS = st.sampled_from([
    "Digits", "SpeechResult", "Confidence", "QueueTime", "QueueResult", "CallStatus",
    "DialCallStatus", "DialCallDuration", "CallDuration", "DequeingCallSid", "CallSid", "From",
    "To", "Caller", "QueueSid", "CurrentQueueSize", "AnsweredBy", "ParentCallSid", "Direction"])
QUERY_KEYS = st.sampled_from(["offer", "service", "step", "failures", "seq", "pending", "lang",
                              "transfer", "intro", "question", "bodySHA256", "since"])
BODY_KINDS = st.sampled_from(["form"] * 8 + ["form_charset", "latin1", "raw_bytes",
                              "repeated", "multipart", "json", "json_sha", "empty"])
CONTENT_TYPES = [
    "application/x-www-form-urlencoded; charset=utf-8", "application/x-www-form-urlencoded; "
    "charset=UTF8", "application/x-www-form-urlencoded; charset=iso-8859-1",
    "application/x-www-form-urlencoded; charset=utf-16", "application/x-www-form-urlencoded; "
    "charset=\"utf-8\"", "text/plain", "application/json; charset=utf-8",
    "application/x-www-form-urlencoded;charset=ébène"]


@dataclass
class Tally:
    """How the examples ended: proof that handlers, not only the guard, were reached."""

    handled: int = 0
    refused: int = 0


class Errors(logging.Handler):
    """Keeps every ERROR record that carries a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


def twilio_routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) the router serves under /twilio/."""
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/twilio/"):
            found.add((route.method, path))
    return sorted(found)


def _body(kind: str, params: dict[str, str], charset_type: str,
          path: str) -> tuple[bytes | FormData | None, dict[str, str], str, Any]:
    """The body, its headers, the signed path and what Twilio's signature covers."""
    form = urlencode(params).encode()
    if kind == "form":
        return form, {"Content-Type": "application/x-www-form-urlencoded"}, path, params
    if kind == "form_charset":
        return form, {"Content-Type": charset_type}, path, params
    if kind == "latin1":
        encoded = urlencode(params, encoding="latin-1", errors="replace").encode()
        return encoded, {"Content-Type": "application/x-www-form-urlencoded"}, path, params
    if kind == "raw_bytes":
        return (form + b"&Digits=%ff%fe&SpeechResult=\xff\xfe",
                {"Content-Type": "application/x-www-form-urlencoded"}, path, params)
    if kind == "repeated":
        pairs = MultiDict(params)
        pairs.add("Digits", "3")
        pairs.add("Digits", "2")
        return (urlencode(list(pairs.items())).encode(),
                {"Content-Type": "application/x-www-form-urlencoded"}, path, pairs)
    if kind == "multipart":
        data = FormData()
        for key, value in params.items():
            data.add_field(key, value, content_type="text/plain")
        return data, {}, path, params
    if kind in ("json", "json_sha"):
        raw = json.dumps(params).encode()
        if kind == "json_sha":
            sep = "&" if "?" in path else "?"
            path = f"{path}{sep}bodySHA256={hashlib.sha256(raw).hexdigest()}"
        return raw, {"Content-Type": "application/json"}, path, {}
    return None, {}, path, {}


def test_any_request_to_any_twilio_route(settings: Settings, flow: Flow, db_url: str) -> None:
    """Property: random, missing, repeated, oversized, non-UTF-8 and control-character
    parameters, odd charsets, multipart and JSON bodies, signed or not, on every /twilio/
    route and method: the answer is 403, another 4xx, or TwiML that parses; never a 500, and
    nothing is logged at ERROR with a traceback."""
    loop = asyncio.new_event_loop()
    errors = Errors()
    tally = Tally()

    async def start() -> tuple[TestClient[Any, Any], asyncpg.Pool, list[tuple[str, str]]]:
        from ivr.db.pool import create_pool

        pool = await create_pool(db_url, max_size=3)
        app = create_app(settings.with_overrides(public_url=PUBLIC), flow=flow, pool=pool)
        client = TestClient(TestServer(app))
        await client.start_server()
        return client, pool, twilio_routes(app)

    client, pool, routes = loop.run_until_complete(start())
    assert {path for _, path in routes} >= {"/twilio/voice", "/twilio/gather",
                                            "/twilio/queue/pickup", "/twilio/agent/answer"}

    async def one(method: str, path: str, params: dict[str, str], query: str, kind: str,
                  charset_type: str, signed: bool) -> None:
        body, headers, path, covered = _body(kind, params, charset_type, path + query)
        if signed:
            headers["X-Twilio-Signature"] = signature(PUBLIC + path, covered, AUTH_TOKEN)
        response = await client.request(method, path, data=body, headers=headers)
        text = await response.read()
        assert response.status < 500, (method, path, kind, response.status, text[:300])
        if response.status == 200:
            parse(text, response.headers.get("Content-Type", ""), 200)
            tally.handled += 1
        else:
            assert 400 <= response.status < 500, response.status
            tally.refused += 1
        assert not errors.records, [r.getMessage() for r in errors.records]

    @hypothesis_settings(max_examples=400, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(route=st.sampled_from(routes), other_method=st.sampled_from([None] * 6 + METHODS),
           changes=st.dictionaries(FIELDS, st.one_of(st.none(), VALUE), max_size=3),
           query=st.lists(st.tuples(QUERY_KEYS, VALUE), max_size=2),
           raw_query=st.sampled_from([""] * 8 + ["%ff", "offer=%00", "offer=%C2%B2", "a=1&a=2",
                                      "service=%0d%0a", "%"]),
           kind=BODY_KINDS, charset_type=st.sampled_from(CONTENT_TYPES),
           signed=st.sampled_from([True, True, True, False]))
    def check(route: tuple[str, str], other_method: str | None,
              changes: dict[str, str | None], query: list[tuple[str, str]], raw_query: str,
              kind: str, charset_type: str, signed: bool) -> None:
        method, path = route
        params = call_params()
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        parts = [f"{quote(k)}={quote(v)}" for k, v in query] + ([raw_query] if raw_query else [])
        text = ("?" + "&".join(parts)) if parts else ""
        loop.run_until_complete(one(other_method or method, path, params, text, kind,
                                    charset_type, signed))

    logging.getLogger().addHandler(errors)
    try:
        check()
    finally:
        logging.getLogger().removeHandler(errors)
        loop.run_until_complete(client.close())
        loop.run_until_complete(pool.close())
        loop.close()
    # Handlers were reached, not only the guard: a good share answered TwiML.
    print(tally)
    assert tally.handled >= 20, tally
    assert tally.refused >= 20, tally
