"""Transfers: the admin API that sends an answered caller to another service, and its TwiML."""

from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web

from ivr import keys, twiml, urls
from ivr.store import audit, transfers
from ivr.store.audit import Surface
from ivr.views.context import Context, context, form, respond

log = logging.getLogger(__name__)


class TransferError(Exception):
    """A transfer refused, with the HTTP status and the message to give back."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def transfer_call(app: web.Application, call_sid: str, service: object, by: str,
                        surface: Surface) -> tuple[str, str]:
    """Send an answered caller to `service`'s queue; (from, to), or TransferError."""
    flow, pool, now = app[keys.FLOW], app[keys.POOL], app[keys.CLOCK].now()
    if not isinstance(service, str) or service not in flow.services:
        raise TransferError(400, f"unknown service {service!r}")
    try:
        from_service = await transfers.start(pool, call_sid, service, by, now)
    except LookupError:
        raise TransferError(404, "no such call") from None
    except transfers.TransferRefused as exc:
        raise TransferError(409, str(exc)) from None
    try:
        # The caller leaves the bridge for our <Enqueue>; the standardist's leg then ends.
        await app[keys.DIALER].redirect_call(call_sid, urls.transfer_url(app[keys.SETTINGS],
                                                                         service))
    except Exception:
        log.exception("redirecting call for a transfer failed")
        await transfers.cancel(pool, call_sid, from_service)
        raise TransferError(502, "Twilio refused to redirect the call") from None
    await audit.record(pool, at=now, actor=by, surface=surface, action="call.transfer",
                       target=f"call:{call_sid}", detail={"from": from_service, "to": service})
    app[keys.METRICS].transfers.labels(from_service, service).inc()
    return from_service, service


async def requeue(request: web.Request) -> web.Response:
    """The transferred caller's call, redirected here: the service's name, then its queue."""
    ctx = context(request)
    await form(request)
    service = request.query.get("service", "")
    if service not in ctx.flow.services:
        return respond(twiml.say_and_hang_up([ctx.flow.prompt("unanswered")], ctx.flow.voice))
    return respond(twiml.enqueue(
        [ctx.flow.prompt("connecting", label=ctx.flow.services[service].label)], ctx.flow.voice,
        queue_name=ctx.flow.queue_name(service),
        wait_url=urls.transfer_wait_url(ctx.settings, service),
        action_url=urls.enqueue_done_url(ctx.settings, service)))


async def second_wait_ends(ctx: Context, call_sid: str, now: datetime, outcome: str) -> None:
    """Close a transferred caller's second wait (once) and observe it."""
    ended = await transfers.finish(ctx.pool, call_sid, now, ctx.rings, outcome=outcome)
    if ended is not None:
        ctx.metrics.transfer_wait.labels(ended.to_service, outcome).observe(ended.wait_seconds)


