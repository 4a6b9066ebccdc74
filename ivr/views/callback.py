"""Callbacks that keep the caller's place: asked in the wait, confirmed, placed, answered."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from ivr import outcomes, twiml, urls
from ivr.callbacks import offer as policy
from ivr.callbacks.numbers import NumberBox, callable_from, french_number, last_digits
from ivr.flow.model import Flow, Prompt
from ivr.ids import strict_id
from ivr.store import callbacks, calls, offers
from ivr.store.callbacks import Callback
from ivr.views.context import Context, context, field, form, respond

# Wrong numbers keyed before the caller goes back to the queue (their place is still kept).
MAX_TRIES = 3


def _id(request: web.Request, name: str) -> int | None:
    return strict_id(request.query.get(name))


def _box(ctx: Context) -> NumberBox | None:
    key = ctx.settings.callback_key
    return NumberBox(key) if key is not None else None


def _flow(ctx: Context, language: str | None) -> Flow:
    return ctx.flow.in_language(language if language in ctx.flow.translations else None)


async def wait_round(ctx: Context, request: web.Request, *, call_sid: str, service: str,
                     caller: str, since: datetime, now: datetime, flow: Flow,
                     announcement: Prompt | None,
                     music_url: str | None) -> tuple[str, list[Prompt]] | None:
    """The waitUrl's round with the callback <Gather> and the prompts spoken before its clip,
    or None when no callback is offered."""
    lang = request.query.get("lang")
    offered = await policy.round_for(
        ctx, call_sid=call_sid, service=service, caller=caller, since=since, now=now,
        flow=flow, transferred=bool(request.query.get("transfer")),
        action_url=urls.callback_request_url(ctx.settings, service,
                                             lang if lang in ctx.flow.translations else None))
    if offered is None:
        return None
    spoken = [p for p in (announcement, offered.offer) if p is not None]
    return twiml.wait_with_callback(flow.voice, music_url=music_url,
                                    ringback_url=urls.ringback_url(ctx.settings),
                                    announcement=announcement, offer=offered.offer,
                                    action_url=offered.action_url), spoken


async def request_callback(request: web.Request) -> web.Response:
    """The wait's <Gather> key: 1 takes the caller out of the queue to confirm the number."""
    ctx = context(request)
    data = await form(request)
    call_sid, service = field(data, "CallSid"), request.query.get("service", "")
    number = callable_from(field(data, "From"))
    box = _box(ctx)
    lang = request.query.get("lang")
    if field(data, "Digits") != "1" or number is None or box is None \
            or service not in ctx.flow.services or not call_sid:
        return respond(twiml.empty())  # back to the waitUrl: the caller keeps waiting
    made = await callbacks.request(ctx.pool, call_sid, service,
                                   lang if lang in ctx.flow.translations else ctx.flow.language,
                                   box.seal(number), ctx.clock.now())
    if made is None:
        return respond(twiml.empty())
    return respond(twiml.leave_queue())


async def after_leave(ctx: Context, call_sid: str) -> str | None:
    """The <Enqueue> action after the caller left for a callback: the number's confirmation."""
    made = await callbacks.of_call(ctx.pool, call_sid)
    if made is None or made.state != "choosing":
        return None
    return _confirmation(ctx, made, 0, [])


def _confirmation(ctx: Context, made: Callback, tries: int, before: list[Prompt]) -> str:
    box = _box(ctx)
    number = box.open(made.number_enc) if box and made.number_enc else None
    flow = _flow(ctx, made.language)
    prompt = flow.prompt("callback_confirm", digits=last_digits(number or "0000"))
    return twiml.ask_number([*before, prompt], flow.voice,
                            action_url=urls.callback_confirm_url(ctx.settings, made.id, tries))


async def confirm(request: web.Request) -> web.Response:
    """1 keeps the number the call came from; ten digits give another French number."""
    ctx = context(request)
    data = await form(request)
    made = await callbacks.get(ctx.pool, _id(request, "callback") or 0)
    tries = _id(request, "tries") or 0
    box = _box(ctx)
    if made is None or box is None or made.call_sid != field(data, "CallSid"):
        return respond(twiml.say_and_hang_up([], ctx.flow.voice))
    flow = _flow(ctx, made.language)
    now = ctx.clock.now()
    if made.state == "waiting":  # a repeated request: the callback is already booked
        return respond(await _booked(ctx, made, flow, now))
    if made.state != "choosing":
        return respond(twiml.say_and_hang_up([], flow.voice))
    digits = field(data, "Digits").rstrip("#")
    keyed = french_number(digits)
    sealed = made.number_enc if digits == "1" else box.seal(keyed) if keyed else None
    if sealed is None:
        if tries + 1 >= MAX_TRIES:
            return respond(await _back_to_queue(ctx, made, flow, now))
        return respond(_confirmation(ctx, made, tries + 1, [flow.prompt("callback_invalid")]))
    if await callbacks.confirm(ctx.pool, made.id, sealed):
        ctx.metrics.callbacks.labels(made.service, "requested").inc()
    return respond(await _booked(ctx, made, flow, now))


async def _booked(ctx: Context, made: Callback, flow: Flow, now: datetime) -> str:
    expected = await policy.expected_seconds(ctx, made.service, made.queued_at, now)
    return twiml.say_and_hang_up(
        [flow.prompt("callback_booked", wait=policy.minutes(flow, expected))], flow.voice)


async def _back_to_queue(ctx: Context, made: Callback, flow: Flow, now: datetime) -> str:
    """No valid number: the caller waits in the queue again, in the place they had."""
    if await callbacks.withdraw(ctx.pool, made.call_sid, now):
        ctx.metrics.callbacks.labels(made.service, "canceled").inc()
    lang = made.language if made.language in ctx.flow.translations else None
    return twiml.enqueue([flow.prompt("callback_invalid")], flow.voice,
                         queue_name=ctx.flow.queue_name(made.service),
                         wait_url=urls.wait_url(ctx.settings, made.service, lang=lang),
                         action_url=urls.enqueue_done_url(ctx.settings, made.service, lang))


async def agent_answer(request: web.Request) -> web.Response:
    """The standardist took the callback's offer: they hear who waited, then the caller rings."""
    ctx = context(request)
    offer_id, callback_id = _id(request, "offer"), _id(request, "callback")
    now = ctx.clock.now()
    made = await callbacks.get(ctx.pool, callback_id) if callback_id is not None else None
    box = _box(ctx)
    number = box.open(made.number_enc) if box and made and made.number_enc else None
    gone = twiml.say_and_hang_up([ctx.flow.prompt("caller_gone")], ctx.flow.voice)
    if offer_id is None or made is None or made.offer_id != offer_id or number is None \
            or made.state != "waiting":
        if offer_id is not None:
            await offers.finish(ctx.pool, offer_id, now, result="no_caller",
                                agent_status="available")
        return respond(gone)
    if not await offers.answered(ctx.pool, offer_id, now):
        current = await offers.get(ctx.pool, offer_id)
        if current is None or current.state != "answered":
            return respond(gone)
    else:
        ctx.metrics.offers.labels(made.service, "answered").inc()
    # The standardist hears the flow's first language: the console and the staff speak French.
    waited = (now - made.queued_at).total_seconds()
    heard = ctx.flow.prompt("callback_agent", label=ctx.flow.services[made.service].label,
                            wait=policy.minutes(ctx.flow, waited))
    assert callback_id is not None
    return respond(twiml.call_back(
        [heard], ctx.flow.voice, number=number, caller_id=ctx.settings.agent_caller_id,
        reached_url=urls.callback_reached_url(ctx.settings, offer_id, callback_id),
        dial_action_url=urls.callback_dial_done_url(ctx.settings, offer_id, callback_id),
        ring_seconds=ctx.settings.callback_ring_seconds))


async def reached(request: web.Request) -> web.Response:
    """<Number url>: the caller answered, a standardist on the line; their wait ends now."""
    ctx = context(request)
    offer_id, callback_id = _id(request, "offer"), _id(request, "callback")
    made = await callbacks.get(ctx.pool, callback_id) if callback_id is not None else None
    if made is None or offer_id is None:
        return respond(twiml.empty())
    now = ctx.clock.now()
    ended = await callbacks.reached(ctx.pool, made.id, now, ctx.rings)
    if ended is not None:
        outcomes.count(ctx.metrics, ended)
        ctx.metrics.callbacks.labels(made.service, "answered").inc()
        await calls.record_event(ctx.pool, made.call_sid, "callback_reached", "pickup", now,
                                 {"offer": str(offer_id), "attempt": made.attempts + 1})
        await offers.picked(ctx.pool, offer_id, made.call_sid)
    return respond(twiml.say_only([_flow(ctx, made.language).prompt("callback_hello")],
                                  _flow(ctx, made.language).voice))


async def dial_done(request: web.Request) -> web.Response:
    """The standardist's <Dial> ended: after the talk, or the caller did not answer."""
    ctx = context(request)
    data = await form(request)
    callback_id = _id(request, "callback")
    status = field(data, "DialCallStatus")
    made = await callbacks.get(ctx.pool, callback_id) if callback_id is not None else None
    if made is None or status in ("completed", "answered") or made.state != "waiting":
        return respond(twiml.say_and_hang_up([], ctx.flow.voice))
    now = ctx.clock.now()
    result, ended = await callbacks.not_reached(
        ctx.pool, made.id, now, timedelta(seconds=ctx.settings.callback_retry_seconds),
        ctx.rings)
    if result:
        ctx.metrics.callbacks.labels(made.service, result).inc()
        await calls.record_event(ctx.pool, made.call_sid, f"callback_missed:{made.attempts + 1}",
                                 "callback_missed", now, {"status": status})
    outcomes.count(ctx.metrics, ended)
    return respond(twiml.say_and_hang_up([ctx.flow.prompt("callback_not_reached")],
                                         ctx.flow.voice))
