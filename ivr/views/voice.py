"""The call's arrival and the menu's answers."""

from __future__ import annotations

from aiohttp import web

from ivr import keys, outcomes
from ivr.flow import engine
from ivr.flow.engine import CallerInput, Close, Decision, Position, Route
from ivr.privacy import hash_number
from ivr.store import calls, languages, self_service
from ivr.views.context import Context, context, field, form, number, respond
from ivr.views.render import render


async def incoming(request: web.Request) -> web.Response:
    """`A call comes in`: record the arrival and answer the greeting or the closed message."""
    ctx = context(request)
    data = await form(request)
    call_sid = field(data, "CallSid")
    now = ctx.clock.now()
    announcement = await request.app[keys.CRISIS].current(now)
    decision = engine.begin(ctx.flow, now, announcement)
    if call_sid:
        # The arrival and its first event in one round trip.
        first = await _log(ctx, call_sid, "begin", decision,
                           hash_number(ctx.settings.hash_key, field(data, "From")),
                           field(data, "To") or None)
        if first and announcement:
            ctx.metrics.crisis_calls.inc()
            await calls.mark_crisis(ctx.pool, call_sid)
        if isinstance(decision.action, Close):
            outcomes.count(ctx.metrics, await calls.close_as(
                ctx.pool, call_sid, "closed", now, decision.action.reason))
    return respond(render(decision.action, ctx.flow, ctx.settings))


async def gather(request: web.Request) -> web.Response:
    """The <Gather> action: the engine decides the next step from the keys or the speech."""
    ctx = context(request)
    data = await form(request)
    call_sid = field(data, "CallSid")
    position = Position.from_query(request.query, ctx.flow)
    heard = CallerInput(digits=field(data, "Digits")[:8], speech=field(data, "SpeechResult"),
                        confidence=number(data, "Confidence"))
    now = ctx.clock.now()
    decision = engine.respond(ctx.flow, position, heard,
                              await request.app[keys.CRISIS].current(now))
    if call_sid:
        await _log(ctx, call_sid, f"step:{position.seq}", decision)
        if decision.event == "language":
            await languages.record(ctx.pool, call_sid, decision.detail["language"])
        if decision.event == "answer":
            await self_service.answered(ctx.pool, call_sid)
        elif position.step == "answer" and decision.event not in ("repeat", "goodbye"):
            await self_service.resume(ctx.pool, call_sid)
        if isinstance(decision.action, Route):
            await calls.route_to(ctx.pool, call_sid, decision.action.service, now)
    return respond(render(decision.action, ctx.flow, ctx.settings))


async def _log(ctx: Context, call_sid: str, key: str, decision: Decision,
               caller_hash: str | None = None, called: str | None = None) -> bool:
    """Record the step; count it in the metrics only the first time it is seen."""
    fresh = await calls.record_event(ctx.pool, call_sid, key, decision.event, ctx.clock.now(),
                                     decision.detail, caller_hash=caller_hash, called=called)
    if fresh:
        detail = decision.detail
        if decision.event == "choice":
            ctx.metrics.menu_choices.labels(detail["service"], detail["input"]).inc()
        elif decision.event == "failure":
            ctx.metrics.menu_failures.labels(detail["reason"]).inc()
        elif decision.event == "closed":
            ctx.metrics.closed_calls.labels(detail["reason"]).inc()
    return fresh
