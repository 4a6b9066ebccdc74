"""The caller's side of a queue: waiting, the pickup, and leaving the queue."""

from __future__ import annotations

import math
from datetime import datetime

from aiohttp import web

from ivr import keys, outcomes, twiml, urls
from ivr.flow.engine import queue_intro
from ivr.flow.model import Flow, Prompt
from ivr.hold_music import clip_for
from ivr.store import agents, calls, offers, transfers
from ivr.views import survey, transfer
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
    since = await calls.enter_queue(ctx.pool, call_sid, service, now) or now
    waited = (now - since).total_seconds()
    if request.query.get("transfer"):  # a transferred caller's wait limit runs from the transfer
        waited = (now - (await transfers.open_since(ctx.pool, call_sid) or now)).total_seconds()
    policy = ctx.flow.services[service].queue
    flow = ctx.flow.in_language(_lang(ctx, request))
    # The service's info and "connecting" play at the queue's first round (issue 15).
    intro = queue_intro(flow, service) if request.query.get("intro") and since == now \
        else ()
    if waited >= policy.max_wait_seconds:
        await calls.overflow(ctx.pool, call_sid, "max_wait")
        return respond(twiml.leave_queue(intro, flow.voice))
    if await agents.online_count(ctx.pool, service) == 0:
        await calls.overflow(ctx.pool, call_sid, "no_agent")
        return respond(twiml.leave_queue(intro, flow.voice))
    await request.app[keys.OFFER_PASSES].request()
    announcement = await _announcement(ctx, call_sid, service, since, now, flow)
    # Without a music_url, the app's short clips in turn: the waitUrl comes back every 12 s.
    music = policy.music_url or urls.hold_music_url(ctx.settings, clip_for(waited))
    return respond(twiml.wait_music(flow.voice, music_url=music
                                    if policy.waiting == "music" else None,
                                    ringback_url=urls.ringback_url(ctx.settings),
                                    announcement=announcement, intro=intro))


async def _announcement(ctx: Context, call_sid: str, service: str, since: datetime,
                        now: datetime, flow: Flow) -> Prompt | None:
    """Position and estimated wait: not before the first minute, not more often than set."""
    policy = ctx.flow.services[service].queue
    waited = (now - since).total_seconds()
    if policy.waiting != "music" or waited < policy.announce_after_seconds:
        return None
    slot = int((waited - policy.announce_after_seconds) // policy.announce_every_seconds)
    if not await calls.record_event(ctx.pool, call_sid, f"announce:{service}:{slot}",
                                    "announcement", now):
        return None
    position = max(await calls.queue_position(ctx.pool, service, since), 1)
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
    if result == "bridged":
        return respond(await survey.after_bridge(ctx, data, call_sid, service) or twiml.empty())
    if result == "hangup":
        await transfer.second_wait_ends(ctx, call_sid, now, "abandoned")
        outcomes.count(ctx.metrics, await calls.hang_up(ctx.pool, call_sid, now, ctx.rings))
        return respond(twiml.empty())
    # leave (our overflow), or a Twilio error on the queue: move on to the next queue.
    target = ctx.flow.services[service].queue.overflow_to
    lang = _lang(ctx, request)
    flow = ctx.flow.in_language(lang)
    if target is not None and await agents.online_count(ctx.pool, target) > 0:
        await calls.move_queue(ctx.pool, call_sid, target)
        return respond(twiml.enqueue(
            [flow.prompt("overflow")], flow.voice,
            queue_name=ctx.flow.queue_name(target),
            wait_url=urls.wait_url(ctx.settings, target, lang=lang),
            action_url=urls.enqueue_done_url(ctx.settings, target, lang)))
    outcomes.count(ctx.metrics, await calls.give_up(ctx.pool, call_sid, now, ctx.rings))
    return respond(twiml.say_and_hang_up([flow.prompt("unanswered")], flow.voice))

