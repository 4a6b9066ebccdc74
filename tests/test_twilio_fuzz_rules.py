"""The strict rules of a Twilio webhook's input, one by one, and replays without side effect."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
from multidict import MultiDict

from ivr import keys
from ivr.flow.model import Flow
from ivr.ids import INT_MAX, strict_id
from ivr.settings import Settings
from ivr.simulator.harness import running
from ivr.simulator.script import AgentScript, CallerScript, Press
from ivr.simulator.twiml_check import parse
from ivr.store import agents
from tests.conftest import OPEN, PUBLIC, Client, paris
from tests.helpers import call_params, signature, signed_post
from tests.test_privacy import dump_database

FORM = "application/x-www-form-urlencoded"


async def _post(client: Client, path: str, body: bytes, content_type: str,
                signed_params: Any) -> tuple[int, bytes, str]:
    headers = {"Content-Type": content_type,
               "X-Twilio-Signature": signature(PUBLIC + path, signed_params)}
    response = await client.post(path, data=body, headers=headers)
    return response.status, await response.read(), response.headers.get("Content-Type", "")


def test_strict_id_takes_ascii_digits_within_range() -> None:
    """Ids are ASCII digits from 1 to the column's maximum; anything else is no id."""
    assert strict_id("42") == 42
    assert strict_id("9223372036854775807") == 2**63 - 1
    for raw in ("²", "٣", "99999999999999999999", "9223372036854775808", "-1", "0", " 7", "7\n",
                "", None, "1e3", "0x1f"):
        assert strict_id(raw) is None, raw
    assert strict_id(str(INT_MAX + 1), INT_MAX) is None


@pytest.mark.parametrize("offer", ["%C2%B2", "99999999999999999999", "0", "-3", "%D9%A3"])
@pytest.mark.parametrize("route", ["/twilio/agent/answer", "/twilio/queue/pickup",
                                   "/twilio/agent/dial-done", "/twilio/agent/status"])
async def test_odd_offer_ids_are_safe(client: Client, route: str, offer: str) -> None:
    """`offer=²` or an id beyond bigint reaches the handler and gets valid TwiML, not a crash."""
    path = f"{route}?offer={offer}"
    status, body = await signed_post(client, PUBLIC, path, call_params(
        DequeingCallSid="CA" + "2" * 32, QueueTime="12", CallStatus="completed"))
    assert status == 200, body
    parse(body.encode(), "application/xml", status)
    assert client.app[keys.METRICS].registry.get_sample_value(
        "ivr_webhook_errors_total", {"route": route.rsplit("/", 1)[1]}) in (None, 0.0)


@pytest.mark.parametrize("odd", ["%C2%B2", "99999999999999999999", "0", "%D9%A3"])
@pytest.mark.parametrize(("route", "name"), [
    ("/twilio/callback/agent", "callback_agent"), ("/twilio/callback/reached", "callback_reached"),
    ("/twilio/callback/dial-done", "callback_dial_done"),
    ("/twilio/callback/confirm", "callback_confirm")])
async def test_odd_callback_ids_are_safe(client: Client, route: str, name: str,
                                         odd: str) -> None:
    """A callback leg's `offer`, `callback` or `tries` of "²" or beyond bigint gets valid
    TwiML, not a crash."""
    path = f"{route}?offer={odd}&callback={odd}&tries={odd}"
    status, body = await signed_post(client, PUBLIC, path, call_params(
        CallStatus="completed", DialCallStatus="no-answer", Digits="1"))
    assert status == 200, body
    parse(body.encode(), "application/xml", status)
    assert client.app[keys.METRICS].registry.get_sample_value(
        "ivr_webhook_errors_total", {"route": name}) in (None, 0.0)


async def test_repeated_key_is_refused(client: Client, pool: asyncpg.Pool) -> None:
    """`Digits=2&Digits=3`, correctly signed, is a 400: Twilio sends each parameter once."""
    pairs = [*call_params().items(), ("Digits", "2"), ("Digits", "3")]
    status, _, _ = await _post(client, "/twilio/gather", urlencode(pairs).encode(), FORM,
                               MultiDict(pairs))
    assert status == 400
    assert await pool.fetchval("SELECT count(*) FROM calls") == 0


async def test_repeated_query_key_is_refused(client: Client) -> None:
    """A query with a key twice (`offer=1&offer=2`) is a 400 even when signed."""
    status, _ = await signed_post(client, PUBLIC, "/twilio/queue/pickup?offer=1&offer=2",
                                  call_params())
    assert status == 400


async def test_refusals_are_counted_on_series_exported_from_start(client: Client) -> None:
    """Each strict-reading refusal moves its own reason's series, present at 0 from start."""
    sample = client.app[keys.METRICS].registry.get_sample_value
    reasons = ("repeated_query_key", "repeated_form_key", "charset")

    def counts() -> list[float | None]:
        return [sample("ivr_webhook_rejected_total", {"reason": r}) for r in reasons]

    assert counts() == [0, 0, 0]
    await signed_post(client, PUBLIC, "/twilio/queue/pickup?offer=1&offer=2", call_params())
    pairs = [*call_params().items(), ("Digits", "2"), ("Digits", "3")]
    await _post(client, "/twilio/gather", urlencode(pairs).encode(), FORM, MultiDict(pairs))
    await _post(client, "/twilio/voice", urlencode(call_params()).encode(),
                FORM + "; charset=iso-8859-1", call_params())
    assert counts() == [1, 1, 1]


@pytest.mark.parametrize(("content_type", "expected"), [
    (FORM, 200), (FORM + "; charset=utf-8", 200), (FORM + "; charset=UTF-8", 200),
    (FORM + "; charset=iso-8859-1", 415), (FORM + "; charset=utf-16", 415),
    ("text/plain", 415), ("multipart/form-data; boundary=x", 415),
    ("application/json", 415)])
async def test_only_utf8_forms_are_accepted(client: Client, content_type: str,
                                            expected: int) -> None:
    """Form-encoded UTF-8 (or no charset) passes; any other type or charset is a 415."""
    params = call_params()
    status, _, _ = await _post(client, "/twilio/voice", urlencode(params).encode(),
                               content_type, params)
    assert status == expected


async def test_json_body_with_body_hash_is_refused(client: Client, pool: asyncpg.Pool) -> None:
    """A JSON body signed with bodySHA256, as Twilio signs one, is refused: we take forms only."""
    raw = json.dumps(call_params()).encode()
    path = f"/twilio/voice?bodySHA256={hashlib.sha256(raw).hexdigest()}"
    status, _, _ = await _post(client, path, raw, "application/json", {})
    assert status == 415
    assert await pool.fetchval("SELECT count(*) FROM calls") == 0


async def test_non_utf8_body_is_refused(client: Client) -> None:
    """Percent-escapes or raw bytes that are not UTF-8 give 400, never a replacement char."""
    params = call_params()
    for tail in (b"&Digits=%ff", b"&Digits=\xe9"):
        status, _, _ = await _post(client, "/twilio/gather", urlencode(params).encode() + tail,
                                   FORM, params)
        assert status == 400


async def test_control_characters_never_reach_postgresql(client: Client,
                                                         pool: asyncpg.Pool) -> None:
    """NUL and escapes in a signed form are dropped before handlers; in the query they are a 400."""
    sid = "CA" + "3" * 32
    status, body = await signed_post(client, PUBLIC, "/twilio/queue/pickup?offer=1",
                                     call_params(sid, DequeingCallSid="CA\x00\x1b[2J",
                                                 QueueTime="1\x00"))
    assert status == 200, body
    status, _ = await signed_post(client, PUBLIC, "/twilio/queue/pickup?offer=%00",
                                  call_params(sid))
    assert status == 400
    dump = "\n".join(await dump_database(pool))
    assert sid in dump
    assert "\x00" not in dump
    assert "\x1b" not in dump
    assert "\\u0000" not in dump


async def test_replayed_webhooks_change_nothing(settings: Settings, flow: Flow,
                                                db_url: str) -> None:
    """Each main webhook of an answered call (voice, gather, queue wait/pickup/done, agent
    answer/status), replayed exactly as signed, leaves every table as it was."""
    main = ("/twilio/voice", "/twilio/gather", "/twilio/queue/wait", "/twilio/queue/pickup",
            "/twilio/queue/done", "/twilio/agent/answer", "/twilio/agent/status")
    async with running(settings, flow, db_url, paris(OPEN)) as h:
        pool = h.app[keys.POOL]
        agent = await agents.add(pool, "Claire", "+33477000001", ["immigration"],
                                 h.clock.now())
        await agents.set_status(pool, agent.id, "available", h.clock.now())
        h.twilio.agent_scripts["+33477000001"] = AgentScript(answer_after=6, talk_seconds=20)
        sent: list[tuple[str, dict[str, str]]] = []
        send = h.twilio._send

        async def recording(url: str, params: dict[str, str]) -> tuple[int, str, bytes]:
            sent.append((url, dict(params)))
            return await send(url, params)

        h.twilio._send = recording  # type: ignore[method-assign]
        result = await h.twilio.call(CallerScript(inputs=(Press("2"),), talk_seconds=20))
        await h.twilio.settle()
        assert result.error is None, result.transcript
        assert result.answered_by is not None, result.transcript
        h.twilio._send = send  # type: ignore[method-assign]
        paths = {url.split("?")[0].removeprefix(h.twilio.base_url) for url, _ in sent}
        assert set(main) <= paths, paths
        before = await dump_database(pool)
        for url, params in sent:
            if url.split("?")[0].removeprefix(h.twilio.base_url) in main:
                status, _, _ = await send(url, params)
                assert status == 200, url
        after = await dump_database(pool)
    assert after == before


async def test_malformed_http_is_a_warning_not_a_traceback(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    """A request line longer than aiohttp accepts is a 400 logged as one warning line, with
    no ERROR record carrying a traceback (aiohttp logs those as errors by default)."""
    response = await client.post("/twilio/voice?step=" + "x" * 9000, data=b"")
    assert response.status == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("malformed request" in r.getMessage() for r in caplog.records)
