"""A stand-in for Twilio's REST endpoint that places calls: POST .../Calls.json."""

from __future__ import annotations

import base64
import hmac
from datetime import UTC, datetime

from aiohttp import web

from ivr.simulator.twilio import FakeTwilio

TWILIO = web.AppKey("twilio", FakeTwilio)


def _authorized(request: web.Request, twilio: FakeTwilio) -> bool:
    expected = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
    return hmac.compare_digest(request.headers.get("Authorization", ""), f"Basic {expected}")


async def create_call(request: web.Request) -> web.Response:
    """Answer like Twilio's Calls resource, and start ringing the agent."""
    twilio = request.app[TWILIO]
    if request.match_info["account"] != twilio.account_sid or not _authorized(request, twilio):
        return web.json_response({"code": 20003, "message": "Authenticate", "status": 401},
                                 status=401)
    form = await request.post()
    params = {k: str(v) for k, v in form.items()}
    params["StatusCallbackEvent"] = " ".join(str(v) for v in form.getall("StatusCallbackEvent",
                                                                       []))
    missing = [name for name in ("To", "From", "Url") if not params.get(name)]
    if missing:
        return web.json_response({"code": 21201, "message": f"Missing {missing}",
                                  "status": 400}, status=400)
    sid = twilio.start_agent_leg(params)
    now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return web.json_response({
        "sid": sid, "account_sid": twilio.account_sid, "to": params["To"],
        "from": params["From"], "status": "queued", "direction": "outbound-api",
        "api_version": "2010-04-01", "date_created": now, "date_updated": now,
        "uri": f"/2010-04-01/Accounts/{twilio.account_sid}/Calls/{sid}.json",
    }, status=201)


async def update_call(request: web.Request) -> web.Response:
    """Answer like Twilio's Call update with `Url`: redirect a call in progress."""
    twilio = request.app[TWILIO]
    if request.match_info["account"] != twilio.account_sid or not _authorized(request, twilio):
        return web.json_response({"code": 20003, "message": "Authenticate", "status": 401},
                                 status=401)
    form = await request.post()
    url, sid = str(form.get("Url", "")), request.match_info["sid"]
    if not url:
        return web.json_response({"code": 21201, "message": "Missing Url", "status": 400},
                                 status=400)
    if not twilio.update_call(sid, url):
        return web.json_response({"code": 21220, "message": "Call is not in-progress. "
                                  "Cannot redirect.", "status": 400}, status=400)
    return web.json_response({"sid": sid, "account_sid": twilio.account_sid,
                              "status": "in-progress", "api_version": "2010-04-01"})


async def fetch_call(request: web.Request) -> web.Response:
    """Answer like Twilio's Call fetch: an agent leg's status, or 404 for an unknown call."""
    twilio = request.app[TWILIO]
    if request.match_info["account"] != twilio.account_sid or not _authorized(request, twilio):
        return web.json_response({"code": 20003, "message": "Authenticate", "status": 401},
                                 status=401)
    sid = request.match_info["sid"]
    status = twilio.call_statuses.get(sid)
    if status is None:
        return web.json_response({"code": 20404, "message": "Not found", "status": 404},
                                 status=404)
    return web.json_response({"sid": sid, "account_sid": twilio.account_sid,
                              "status": status, "api_version": "2010-04-01"})


def rest_app(twilio: FakeTwilio) -> web.Application:
    """The REST stand-in as an aiohttp application."""
    app = web.Application()
    app[TWILIO] = twilio
    app.router.add_post("/2010-04-01/Accounts/{account}/Calls.json", create_call)
    app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{sid}.json", update_call)
    app.router.add_get("/2010-04-01/Accounts/{account}/Calls/{sid}.json", fetch_call)
    return app
