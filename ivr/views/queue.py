"""The caller's side of a queue: waiting, the pickup, and leaving the queue."""

from __future__ import annotations

import math
from datetime import datetime

from aiohttp import web

from ivr import keys, outcomes, queue_policy, twiml, urls
from ivr.flow.engine import queue_intro
from ivr.flow.model import Flow, Prompt
from ivr.hold_music import clip_for
from ivr.store import agents, calls, offers, ringbacks, transfers
from ivr.views import callback, survey, transfer
from ivr.views.context import Context, context, field, form, number, respond, strict_id


def _lang(ctx: Context, request: web.Request) -> str | None:
    """The caller's language from the query, when the flow declares it."""
    lang = request.query.get("lang")
    return lang if lang in ctx.flow.translations else None


def _service(ctx: Context, request: web.Request) -> str | None:
    name = request.query.get("service", "")
    return name if name in ctx.flow.services else None


async def wait(request: web.Request) -> web.Response:
    """The waitUrl: note the queue entry, offer the call, announce, or leave when it is time."""
    ctx = context(request)
    data = await form(request)
    call_sid, service = field(data, "CallSid"), _service(ctx, request)
    if not call_sid or service is None:
        return respond(twiml.leave_queue())
    now = ctx.clock.now()
    entered, first = await calls.enter_queue(ctx.pool, call_sid, service, now)
    since = entered or now
    waited = (now - since).total_seconds()
    if request.query.get("transfer"):  # a transferred caller's wait limit runs from the transfer
        waited = (now - (await transfers.open_since(ctx.pool, call_sid) or now)).total_seconds()
    policy = ctx.flow.services[service].queue
    flow = ctx.flow.in_language(_lang(ctx, request))
    # The service's info and "connecting" play at the queue's first round (issue 15).
    intro = queue_intro(flow, service) if request.query.get("intro") and first else ()
    # Past the maximum wait the count does not matter: no query for it.
    online = 1 if waited >= policy.max_wait_seconds \
        else await agents.online_count(ctx.pool, service)
    step = queue_policy.on_wait(policy, waited, online)
    if isinstance(step, queue_policy.Leave):
        await calls.overflow(ctx.pool, call_sid, step.reason)
        return respond(twiml.leave_queue(intro, flow.voice))
    # The dispatcher makes the offer; everyone else's instance looks when a caller is new.
    dispatcher = request.app[keys.DISPATCHER]
    if first:
        await dispatcher.wake()
    else:
        dispatcher.kick()
    announcement = None if step.announce_slot is None else await _announcement(
        ctx, call_sid, service, since, now, flow, step.announce_slot,
        number(data, "QueuePosition"))
    # Without a music_url, the app's short clips in turn: the waitUrl comes back every 12 s.
    music = policy.music_url or urls.hold_music_url(ctx.settings, clip_for(waited))
    # Issue 16: past the service's threshold, the round sits in a <Gather> offering a callback.
    offered = None if intro else await callback.wait_round(
        ctx, request, call_sid=call_sid, service=service, caller=field(data, "From"),
        since=since, now=now, flow=flow, announcement=announcement,
        music_url=music if policy.waiting == "music" else None)
    if offered is not None:
        document, spoken = offered
        await ringbacks.played(ctx.pool, call_sid, now, policy.waiting, spoken)
        return respond(document)
    await ringbacks.played(ctx.pool, call_sid, now, policy.waiting, intro)
    return respond(twiml.wait_music(flow.voice, music_url=music
                                    if policy.waiting == "music" else None,
                                    ringback_url=urls.ringback_url(ctx.settings),
                                    announcement=announcement, intro=intro))


async def _announcement(ctx: Context, call_sid: str, service: str, since: datetime,
                        now: datetime, flow: Flow, slot: int,
                        twilio_position: float | None) -> Prompt | None:
    """Position and estimated wait, once per announcement slot the policy made due."""
    if not await calls.record_event(ctx.pool, call_sid, f"announce:{service}:{slot}",
                                    "announcement", now):
        return None
    counted = 0 if twilio_position is not None \
        else await calls.queue_position(ctx.pool, service, since)
    position = queue_policy.announced_position(twilio_position, counted)
    average = await calls.recent_average_wait(ctx.pool, service, now) or 60.0
    minutes = max(1, math.ceil(average * position / 60))
    return flow.prompt("wait_position", position=position, wait=flow.minutes(minutes))


async def pickup(request: web.Request) -> web.Response:
    """<Queue url>: an agent's leg dequeued this caller; the wait ends now."""
    ctx = context(request)
    data = await form(request)
    caller_sid = field(data, "CallSid")
    offer_id = request.query.get("offer", "")
    now = ctx.clock.now()
    if caller_sid:
        await calls.record_event(ctx.pool, caller_sid, "pickup", "pickup", now,
                                 {"agent_leg": field(data, "DequeingCallSid"), "offer": offer_id,
                                  "queue_time": field(data, "QueueTime")})
        ended = await calls.answer(ctx.pool, caller_sid, now, ctx.rings,
                                   number(data, "QueueTime"))
        outcomes.count(ctx.metrics, ended)
        if ended is None:  # already answered once: a transferred caller's second pickup
            await transfer.second_wait_ends(ctx, caller_sid, now, "answered")
        picked = strict_id(offer_id)
        if picked is not None:
            await offers.picked(ctx.pool, picked, caller_sid)
    return respond(twiml.empty())


async def done(request: web.Request) -> web.Response:
    """The <Enqueue> action: bridged, hung up, or left for overflow."""
    ctx = context(request)
    data = await form(request)
    call_sid, service = field(data, "CallSid"), _service(ctx, request)
    result = field(data, "QueueResult")
    now = ctx.clock.now()
    if not call_sid or service is None:
        return respond(twiml.empty())
    await calls.record_event(ctx.pool, call_sid, f"queue_done:{service}:{result}", "queue_done",
                             now, {"result": result, "queue_time": field(data, "QueueTime")})
    end = queue_policy.queue_end(result)
    if end == "bridged":
        return respond(await survey.after_bridge(ctx, data, call_sid, service,
                                                 _lang(ctx, request)) or twiml.empty())
    if end in ("in_progress", "moved"):
        # Being bridged, or taken out by our own redirect (a transfer): the call goes on
        # elsewhere, and this answer's TwiML is not played.
        return respond(twiml.empty())
    if end == "abandoned":
        await transfer.second_wait_ends(ctx, call_sid, now, "abandoned")
        outcomes.count(ctx.metrics, await calls.hang_up(ctx.pool, call_sid, now, ctx.rings))
        return respond(twiml.empty())
    if result == "leave" and (confirming := await callback.after_leave(ctx, call_sid)):
        return respond(confirming)  # the caller left the queue to be called back (issue 16)
    # leave (our overflow), a full queue, or a Twilio error on the queue: the next queue.
    policy = ctx.flow.services[service].queue
    target = queue_policy.overflow_target(policy, await agents.online_count(
        ctx.pool, policy.overflow_to) if policy.overflow_to is not None else 0)
    lang = _lang(ctx, request)
    flow = ctx.flow.in_language(lang)
    if target is not None:
        await calls.move_queue(ctx.pool, call_sid, target)
        return respond(twiml.enqueue(
            [flow.prompt("overflow")], flow.voice,
            queue_name=ctx.flow.queue_name(target),
            wait_url=urls.wait_url(ctx.settings, target, lang=lang),
            action_url=urls.enqueue_done_url(ctx.settings, target, lang)))
    outcomes.count(ctx.metrics, await calls.give_up(ctx.pool, call_sid, now, ctx.rings))
    return respond(twiml.say_and_hang_up([flow.prompt("unanswered")], flow.voice))

