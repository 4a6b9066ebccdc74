"""Signature checks on every /twilio/ route, body limits, and fallback TwiML."""

from __future__ import annotations

import asyncpg

from ivr import keys
from ivr.app import create_app
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.twiml_check import parse
from tests.conftest import PUBLIC, Client, MakeClient
from tests.helpers import call_params, signature, signed_post


async def _calls(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM calls")
    return count


def _rejected(client: Client, reason: str) -> float:
    value = client.app[keys.METRICS].registry.get_sample_value(
        "ivr_webhook_rejected_total", {"reason": reason})
    return value or 0.0


async def test_signed_request_gets_twiml_behind_proxy(client: Client, pool: asyncpg.Pool) -> None:
    """A request signed for the public https URL is accepted on another port and recorded."""
    status, body = await signed_post(client, PUBLIC, "/twilio/voice", call_params())
    assert status == 200
    verbs = parse(body.encode(), "application/xml", status)
    assert verbs[0].name in ("Gather", "Say")
    assert await _calls(pool) == 1


async def test_unsigned_request_is_403_and_writes_nothing(client: Client,
                                                          pool: asyncpg.Pool) -> None:
    """No X-Twilio-Signature: 403, counted, nothing stored."""
    response = await client.post("/twilio/voice", data=call_params())
    assert response.status == 403
    assert _rejected(client, "missing_signature") == 1
    assert await _calls(pool) == 0


async def test_forged_signature_is_403(client: Client, pool: asyncpg.Pool) -> None:
    """A signature made with another token is refused."""
    status, _ = await signed_post(client, PUBLIC, "/twilio/voice", call_params(),
                                  token="not-the-token")
    assert status == 403
    assert _rejected(client, "bad_signature") == 1
    assert await _calls(pool) == 0


async def test_altered_parameter_is_403(client: Client, pool: asyncpg.Pool) -> None:
    """A parameter changed after signing breaks the signature."""
    params = call_params()
    headers = {"X-Twilio-Signature": signature(PUBLIC + "/twilio/voice", params)}
    response = await client.post("/twilio/voice", data={**params, "From": "+33100000000"},
                                 headers=headers)
    assert response.status == 403
    assert await _calls(pool) == 0


async def test_wrong_url_is_403(client: Client, pool: asyncpg.Pool) -> None:
    """A signature for another host or path does not pass."""
    params = call_params()
    for url in ("https://evil.example/twilio/voice", PUBLIC + "/twilio/status"):
        headers = {"X-Twilio-Signature": signature(url, params)}
        response = await client.post("/twilio/voice", data=params, headers=headers)
        assert response.status == 403
    assert await _calls(pool) == 0


async def test_query_string_is_signed_as_sent(client: Client) -> None:
    """The query is part of the signed URL exactly as received; changing it fails."""
    params = call_params(Digits="2")
    path = "/twilio/gather?failures=0&seq=1&step=menu"
    status, _ = await signed_post(client, PUBLIC, path, params)
    assert status == 200
    headers = {"X-Twilio-Signature": signature(PUBLIC + path, params)}
    response = await client.post("/twilio/gather?failures=1&seq=1&step=menu", data=params,
                                 headers=headers)
    assert response.status == 403


async def test_explicit_port_in_public_url_is_accepted(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, pool: asyncpg.Pool) -> None:
    """Twilio may sign https://host:443/...; the validator accepts both forms."""
    app = create_app(settings.with_overrides(public_url=PUBLIC), flow=flow, pool=pool)
    client = await aiohttp_client(app)
    params = call_params()
    headers = {"X-Twilio-Signature": signature(
        "https://ivr.prefecture.example:443/twilio/voice", params)}
    response = await client.post("/twilio/voice", data=params, headers=headers)
    assert response.status == 200


async def test_large_body_is_413(client: Client, pool: asyncpg.Pool) -> None:
    """A form body over 64 KiB is refused before anything else."""
    params = call_params(SpeechResult="x" * 70_000)
    status, _ = await signed_post(client, PUBLIC, "/twilio/gather", params)
    assert status == 413
    assert await _calls(pool) == 0


async def test_database_outage_gives_the_menu_and_journals_the_call(
        aiohttp_client: MakeClient, settings: Settings, flow: Flow, db_url: str) -> None:
    """With the pool closed (database gone), /twilio/voice still answers the menu (issue 10:
    the flow is in memory) and keeps the arrival in the outage journal."""
    from ivr.db.pool import create_pool
    from ivr.degraded import OUTAGE

    dead = await create_pool(db_url, max_size=1)
    await dead.close()
    app = create_app(settings.with_overrides(public_url=PUBLIC), flow=flow, pool=dead)
    client = await aiohttp_client(app)
    status, body = await signed_post(client, PUBLIC, "/twilio/voice", call_params())
    assert status == 200
    parse(body.encode(), "application/xml", status)
    live = await create_pool(db_url, max_size=1)
    try:
        healthy = await aiohttp_client(create_app(settings.with_overrides(public_url=PUBLIC),
                                                  flow=flow, pool=live))
        assert (await signed_post(healthy, PUBLIC, "/twilio/voice", call_params())) == (
            200, body), "the same greeting (or closed message) as with the database"
    finally:
        await live.close()
    assert "difficulté technique" not in body
    metrics = app[keys.METRICS].registry
    assert metrics.get_sample_value("ivr_webhook_degraded_total", {"route": "voice"}) == 1
    assert app[OUTAGE].journal.depth == 1


async def test_health_and_readiness(client: Client) -> None:
    """/healthz says the process is up; /readyz that the database answers."""
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200


async def test_admin_needs_bearer_token(client: Client) -> None:
    """The admin API refuses requests without the right token."""
    assert (await client.get("/admin/crisis")).status == 401
    bad = {"Authorization": "Bearer nope"}
    assert (await client.get("/admin/agents", headers=bad)).status == 401
    good = {"Authorization": "Bearer admin-token-for-tests"}
    assert (await client.get("/admin/agents", headers=good)).status == 200
