"""Status callbacks of callers' calls, recorded once each."""

from __future__ import annotations

from aiohttp import web

from ivr import outcomes, twiml
from ivr.store import callbacks, calls
from ivr.views import transfer
from ivr.views.context import context, field, form, respond

FINAL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


async def call_status(request: web.Request) -> web.Response:
    """initiated / ringing / in-progress / completed of a known call: store each once, end once."""
    ctx = context(request)
    data = await form(request)
    call_sid, status = field(data, "CallSid"), field(data, "CallStatus")
    if not call_sid or not status:
        return respond(twiml.empty())
    if not await calls.known(ctx.pool, call_sid):
        # A callback for a call this server never saw (a forged or misrouted one, or a first
        # webhook that never reached us): it creates nothing and counts as rejected.
        ctx.metrics.webhook_rejected.labels("unknown_call").inc()
        return respond(twiml.empty())
    now = ctx.clock.now()
    detail = {"status": status, "sequence": field(data, "SequenceNumber"),
              "duration": field(data, "CallDuration")}
    await calls.record_event(ctx.pool, call_sid, f"status:{status}", "status", now, detail)
    if status in FINAL:
        # A transferred caller who left during the second wait keeps the first pickup's outcome.
        await transfer.second_wait_ends(ctx, call_sid, now, "abandoned")
        # Hung up while confirming a callback's number: a queued caller who left (issue 16).
        await callbacks.withdraw(ctx.pool, call_sid, now)
        outcomes.count(ctx.metrics, await calls.hang_up(ctx.pool, call_sid, now, ctx.rings))
    return respond(twiml.empty())
