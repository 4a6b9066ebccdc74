"""Server-sent events: each viewer gets the live parts of their page that changed."""

from __future__ import annotations

from aiohttp import web
from aiohttp_sse import sse_response

from ivr import keys
from ivr.console import auth, fragments
from ivr.console.live import Hub
from ivr.store import accounts

HUB = web.AppKey("console_hub", Hub)


async def stream(request: web.Request) -> web.StreamResponse:
    """`/console/events?view=agent|manager`: live fragments until the browser leaves."""
    session = await auth.current(request)
    if session is None:
        raise web.HTTPUnauthorized(text="Session expirée : reconnectez-vous.")
    view = request.query.get("view", "agent")
    if view not in ("agent", "manager") or (view == "manager"
                                            and session.account.role != "manager"):
        raise web.HTTPForbidden(text="Vue non autorisée.")
    token = request.cookies.get(auth.COOKIE, "")
    sent: dict[str, str] = {}
    async with sse_response(request) as response:
        async for snap in request.app[HUB].follow():
            if not response.is_connected():
                break
            # A session closed elsewhere (sign-out, password change) stops the stream too.
            if await accounts.session(request.app[keys.POOL], token, snap.now) is None:
                break
            try:
                for name, html in fragments.render(request.app, snap, session.account,
                                                   view).items():
                    if sent.get(name) != html:
                        await response.send(html, event=name)
                        sent[name] = html
            except (ConnectionResetError, TimeoutError):
                break
    return response
