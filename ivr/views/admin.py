"""The managers' admin API: crisis announcement and agents, behind a bearer token."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from ivr import acd, keys
from ivr.store import agents, crisis

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def admin_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only callers with `Authorization: Bearer $IVR_ADMIN_TOKEN` reach /admin/."""
    if not request.path.startswith("/admin/"):
        return await handler(request)
    expected = f"Bearer {request.app[keys.SETTINGS].admin_token}"
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return _error(401, "missing or wrong bearer token")
    return await handler(request)


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text='{"error": "body is not JSON"}',
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "expected a JSON object"}',
                                 content_type="application/json")
    return body


def _when(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("until: expected an ISO 8601 date-time")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("until: give a time zone, for example 2026-12-01T18:00+01:00")
    return parsed


async def get_crisis(request: web.Request) -> web.Response:
    """The crisis announcement's state."""
    state = await crisis.status(request.app[keys.POOL], request.app[keys.CLOCK].now())
    return web.json_response({
        "active": state.active, "message": state.message,
        "until": state.until.isoformat() if state.until else None,
        "changed_at": state.changed_at.isoformat() if state.changed_at else None,
        "changed_by": state.changed_by})


async def set_crisis(request: web.Request) -> web.Response:
    """Switch the crisis announcement on or off: {"active", "message", "until", "by"}."""
    body = await _json(request)
    active = body.get("active")
    if not isinstance(active, bool):
        return _error(400, "active: expected true or false")
    by = body.get("by", "admin-api")
    try:
        await crisis.switch(request.app[keys.POOL], active=active, message=body.get("message"),
                            until=_when(body.get("until")), now=request.app[keys.CLOCK].now(),
                            by=str(by)[:100])
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))
    return await get_crisis(request)


async def list_agents(request: web.Request) -> web.Response:
    """Every agent with their status now."""
    found = await agents.list_all(request.app[keys.POOL], request.app[keys.CLOCK].now())
    return web.json_response([a.as_json() for a in found])


async def create_agent(request: web.Request) -> web.Response:
    """Create an agent: {"name", "contact", "services"}."""
    body = await _json(request)
    try:
        agent = await agents.add(request.app[keys.POOL], body.get("name"), body.get("contact"),
                                 body.get("services"), request.app[keys.CLOCK].now(),
                                 request.app[keys.FLOW].services)
    except agents.AgentError as exc:
        return _error(400, str(exc))
    return web.json_response(agent.as_json(), status=201)


def _agent_id(request: web.Request) -> int:
    raw = request.match_info["agent_id"]
    if not raw.isdigit() or len(raw) > 9:
        raise web.HTTPNotFound(text='{"error": "no such agent"}', content_type="application/json")
    return int(raw)


async def delete_agent(request: web.Request) -> web.Response:
    """Delete an agent."""
    if not await agents.remove(request.app[keys.POOL], _agent_id(request)):
        return _error(404, "no such agent")
    return web.Response(status=204)


async def set_agent_status(request: web.Request) -> web.Response:
    """Set an agent's status: {"status": "available" | "busy" | "wrap_up" | "offline"}."""
    body = await _json(request)
    try:
        agent = await agents.set_status(request.app[keys.POOL], _agent_id(request),
                                        body.get("status"), request.app[keys.CLOCK].now())
    except agents.AgentError as exc:
        return _error(400, str(exc))
    if agent is None:
        return _error(404, "no such agent")
    if agent.status == "available":
        await acd.offer_waiting(request.app)
    return web.json_response(agent.as_json())
