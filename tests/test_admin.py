"""The admin API: crisis announcement and agents, with clear 4xx on bad input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from ivr.app import create_app
from ivr.flow.model import Flow
from ivr.settings import Settings

AUTH = {"Authorization": "Bearer admin-token-for-tests"}
MakeClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


async def test_crisis_through_admin_api(aiohttp_client: MakeClient, settings: Settings,
                                        flow: Flow, pool: asyncpg.Pool) -> None:
    """Switch on with a message and an end time, read it back, switch off; bad input is 400."""
    client = await aiohttp_client(create_app(settings, flow=flow, pool=pool))
    bad = await client.post("/admin/crisis", json={"active": True}, headers=AUTH)
    assert bad.status == 400
    assert "message" in (await bad.json())["error"]
    naive = await client.post("/admin/crisis", json={"active": True, "message": "x",
                                                     "until": "2099-01-01T10:00"}, headers=AUTH)
    assert naive.status == 400
    forged = await client.post("/admin/crisis", json={
        "active": True, "message": "Alerte météo", "by": "préfet"}, headers=AUTH)
    assert forged.status == 400  # the actor comes from the credentials, never from the body
    on = await client.post("/admin/crisis", json={
        "active": True, "message": "Alerte météo", "until": "2099-01-01T10:00+01:00"},
        headers=AUTH)
    assert on.status == 200
    body = await on.json()
    assert (body["active"], body["message"], body["changed_by"]) == (True, "Alerte météo",
                                                                    "admin")
    off = await client.post("/admin/crisis", json={"active": False}, headers=AUTH)
    assert (await off.json())["active"] is False
    assert (await client.post("/admin/crisis", data="not json", headers=AUTH)).status == 400


async def test_agents_through_admin_api(aiohttp_client: MakeClient, settings: Settings,
                                        flow: Flow, pool: asyncpg.Pool) -> None:
    """Create, list, set status, delete; each bad input gets its own 4xx."""
    client = await aiohttp_client(create_app(settings, flow=flow, pool=pool))
    made = await client.post("/admin/agents", json={
        "name": "Claire", "contact": "+33477000001", "services": ["immigration", "reception"]},
        headers=AUTH)
    assert made.status == 201
    agent = await made.json()
    assert agent["status"] == "offline"
    dup = await client.post("/admin/agents", json={
        "name": "Other", "contact": "+33477000001", "services": ["crisis"]}, headers=AUTH)
    assert dup.status == 400
    for body in ({"name": "", "contact": "+33477000002", "services": ["crisis"]},
                 {"name": "A", "contact": "0477", "services": ["crisis"]},
                 {"name": "A", "contact": "+33477000003", "services": ["passports"]}):
        assert (await client.post("/admin/agents", json=body, headers=AUTH)).status == 400
    status = await client.post(f"/admin/agents/{agent['id']}/status",
                               json={"status": "available"}, headers=AUTH)
    assert (await status.json())["status"] == "available"
    wrong = await client.post(f"/admin/agents/{agent['id']}/status", json={"status": "asleep"},
                              headers=AUTH)
    assert wrong.status == 400
    listed = await (await client.get("/admin/agents", headers=AUTH)).json()
    assert [a["name"] for a in listed] == ["Claire"]
    assert (await client.delete(f"/admin/agents/{agent['id']}", headers=AUTH)).status == 204
    assert (await client.delete(f"/admin/agents/{agent['id']}", headers=AUTH)).status == 404
    assert (await client.delete("/admin/agents/abc", headers=AUTH)).status == 404
