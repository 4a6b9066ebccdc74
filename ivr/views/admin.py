"""The managers' admin API: crisis announcement and agents, behind bearer tokens, audited."""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import keys
from ivr.ids import INT_MAX, strict_id
from ivr.security import DATABASE_ERRORS
from ivr.store import agents, audit, crisis
from ivr.views import transfer

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ACTOR = web.RequestKey("admin_actor", str)
_CALL_SID = re.compile(r"CA[0-9a-f]{32}")


class BadInput(ValueError):
    """A request the admin API refuses with a 400 and this message."""


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def actor_for(settings_tokens: list[tuple[str, str]], authorization: str) -> str | None:
    """The name the bearer token belongs to, or None; every token is compared in full."""
    # A header holding bytes that are not UTF-8 must be refused, never crash the comparison.
    given = authorization.encode("utf-8", "replace")
    found = None
    for name, token in settings_tokens:
        if hmac.compare_digest(given, f"Bearer {token}".encode()):
            found = name
    return found


@web.middleware
async def admin_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only callers with a known bearer token reach /admin/; the token names the actor."""
    if not request.path.startswith("/admin/"):
        return await handler(request)
    settings = request.app[keys.SETTINGS]
    actor = actor_for([("admin", settings.admin_token), *settings.admin_tokens],
                      request.headers.get("Authorization", ""))
    if actor is None:
        return _error(401, "missing or wrong bearer token")
    request[ACTOR] = actor
    try:
        return await handler(request)
    except BadInput as exc:
        return _error(400, str(exc))
    except DATABASE_ERRORS:
        log.exception("admin %s %s: database unavailable", request.method, request.path)
        return _error(503, "database unavailable, try again")


def _actor(request: web.Request) -> str:
    return request[ACTOR]


async def _json(request: web.Request, allowed: set[str]) -> dict[str, Any]:
    """The body as a JSON object holding only `allowed` keys, or BadInput."""
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # JSON, encoding, huge integers, deep nesting
        raise BadInput("body is not JSON") from None
    if not isinstance(body, dict):
        raise BadInput("expected a JSON object")
    unknown = sorted(str(k) for k in body if k not in allowed)
    if unknown:
        raise BadInput(f"unknown fields: {', '.join(unknown)[:200]} "
                       f"(expected {', '.join(sorted(allowed))})")
    return body


def _text(value: object, name: str, max_len: int) -> str | None:
    """An optional one-line text without control characters."""
    if value is None:
        return None
    if (not isinstance(value, str) or len(value) > max_len
            or not all(ch.isprintable() for ch in value)):
        raise BadInput(f"{name}: expected a text of at most {max_len} printable characters")
    return value


def _when(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise BadInput("until: expected an ISO 8601 date-time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput("until: expected an ISO 8601 date-time, "
                       "for example 2026-12-01T18:00+01:00") from None
    if parsed.tzinfo is None:
        raise BadInput("until: give a time zone, for example 2026-12-01T18:00+01:00")
    try:
        in_utc = parsed.astimezone(UTC)
    except OverflowError:
        raise BadInput("until: expected a year between 2 and 9998") from None
    if not 2 <= in_utc.year <= 9998:
        raise BadInput("until: expected a year between 2 and 9998")
    return parsed


async def get_crisis(request: web.Request, shown_in: tzinfo | None = None) -> web.Response:
    """The crisis announcement's state, times in `shown_in` or the flow's zone (never UTC)."""
    state = await crisis.status(request.app[keys.POOL], request.app[keys.CLOCK].now())
    zone = shown_in or ZoneInfo(request.app[keys.FLOW].timezone)
    return web.json_response({
        "active": state.active, "message": state.message,
        "until": state.until.astimezone(zone).isoformat() if state.until else None,
        "changed_at": state.changed_at.astimezone(zone).isoformat() if state.changed_at else None,
        "changed_by": state.changed_by})


async def set_crisis(request: web.Request) -> web.Response:
    """Switch the crisis announcement on or off: {"active", "message", "until"}."""
    body = await _json(request, {"active", "message", "until"})
    active = body.get("active")
    if not isinstance(active, bool):
        raise BadInput("active: expected true or false")
    message = _text(body.get("message"), "message", crisis.MAX_MESSAGE)
    until = _when(body.get("until"))
    now, pool, actor = request.app[keys.CLOCK].now(), request.app[keys.POOL], _actor(request)
    try:
        await crisis.switch(pool, active=active, message=message, until=until, now=now,
                            by=actor)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if keys.CRISIS in request.app:
        request.app[keys.CRISIS].invalidate()
    await audit.record(pool, at=now, actor=actor, surface="admin_api",
                       action="crisis.on" if active else "crisis.off", target="crisis",
                       detail={"message": message, "until": until})
    return await get_crisis(request, until.tzinfo if until else None)


async def list_agents(request: web.Request) -> web.Response:
    """Every agent with their status now."""
    found = await agents.list_all(request.app[keys.POOL], request.app[keys.CLOCK].now())
    return web.json_response([a.as_json() for a in found])


async def create_agent(request: web.Request) -> web.Response:
    """Create an agent: {"name", "contact", "services"}."""
    body = await _json(request, {"name", "contact", "services"})
    try:
        agent = await agents.add(request.app[keys.POOL], body.get("name"), body.get("contact"),
                                 body.get("services"), request.app[keys.CLOCK].now(),
                                 request.app[keys.FLOW].services,
                                 actor=_actor(request), surface="admin_api")
    except agents.AgentError as exc:
        raise BadInput(str(exc)) from None
    return web.json_response(agent.as_json(), status=201)


def _agent_id(request: web.Request) -> int:
    agent_id = strict_id(request.match_info["agent_id"], INT_MAX)
    if agent_id is None:
        raise web.HTTPNotFound(text='{"error": "no such agent"}', content_type="application/json")
    return agent_id


async def delete_agent(request: web.Request) -> web.Response:
    """Retire an agent; their offers and history stay."""
    if not await agents.remove(request.app[keys.POOL], _agent_id(request),
                               request.app[keys.CLOCK].now(), actor=_actor(request),
                               surface="admin_api"):
        return _error(404, "no such agent")
    return web.Response(status=204)


async def set_agent_status(request: web.Request) -> web.Response:
    """Set an agent's status: {"status": "available" | "busy" | "wrap_up" | "offline"}."""
    agent_id = _agent_id(request)
    body = await _json(request, {"status", "note"})
    try:
        agent = await agents.set_status(
            request.app[keys.POOL], agent_id, body.get("status"), request.app[keys.CLOCK].now(),
            _text(body.get("note"), "note", 200), actor=_actor(request), surface="admin_api")
    except agents.AgentError as exc:
        raise BadInput(str(exc)) from None
    if agent is None:
        return _error(404, "no such agent")
    if agent.status == "available":
        await request.app[keys.DISPATCHER].wake()
    return web.json_response(agent.as_json())


async def transfer_call(request: web.Request) -> web.Response:
    """Send an answered caller to another service: {"service", "by"}, 200 or 400/404/409/502.

    The actor is the one the token names; `by` (who asked, for example a standardist's name)
    is kept beside it.
    """
    body = await _json(request, {"service", "by"})
    by = _text(body.get("by"), "by", 100)
    call_sid = request.match_info["call_sid"]
    if not _CALL_SID.fullmatch(call_sid):
        return _error(404, "no such call")
    actor = _actor(request) if by is None else f"{_actor(request)} (pour {by})"
    try:
        moved = await transfer.transfer_call(request.app, call_sid, body.get("service"), actor,
                                             "admin_api")
    except transfer.TransferError as exc:
        return _error(exc.status, str(exc))
    return web.json_response({"call_sid": call_sid, "from_service": moved[0],
                              "to_service": moved[1]})
