"""The agent's leg: answering an offer, the end of the conversation, and its status."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from ivr import keys, twiml, urls
from ivr.fallback import fallback_twiml
from ivr.flow.model import Prompt
from ivr.store import offers
from ivr.views.context import context, field, form, respond, strict_id

# Short, so a live standardist's key costs the caller little: they press during it.
KEY_PROMPT = "Appel pour {label}. Appuyez sur une touche."
KEY_TIMEOUT_SECONDS = 3
NO_KEY_NOTE = "offre manquée : aucune touche (messagerie ?)"
FAILED = {"no-answer": "pas de réponse", "busy": "ligne occupée", "failed": "appel impossible",
          "canceled": "appel annulé"}


def _offer_id(request: web.Request) -> int | None:
    return strict_id(request.query.get("offer"))


async def answer(request: web.Request) -> web.Response:
    """The agent's phone answered: a person presses a key to take the call, a voicemail not."""
    ctx = context(request)
    offer_id = _offer_id(request)
    offer = await offers.get(ctx.pool, offer_id) if offer_id is not None else None
    if offer is None or offer_id is None or offer.state not in ("ringing", "answered"):
        return respond(twiml.say_and_hang_up([ctx.flow.prompt("caller_gone")], ctx.flow.voice))
    label = ctx.flow.services[offer.service].label if offer.service in ctx.flow.services \
        else offer.service
    return respond(twiml.ask_agent_key(
        [Prompt(text=KEY_PROMPT.format(label=label))], ctx.flow.voice,
        action_url=urls.agent_accept_url(ctx.settings, offer_id),
        no_key_url=urls.agent_no_key_url(ctx.settings, offer_id),
        timeout=KEY_TIMEOUT_SECONDS))


async def accept(request: web.Request) -> web.Response:
    """The standardist pressed a key: bridge them to the first caller of the service's queue."""
    ctx = context(request)
    offer_id = _offer_id(request)
    offer = await offers.get(ctx.pool, offer_id) if offer_id is not None else None
    now = ctx.clock.now()
    if offer is None or offer_id is None:
        return respond(twiml.say_and_hang_up([ctx.flow.prompt("caller_gone")], ctx.flow.voice))
    bridge = twiml.connect_agent(
        queue_name=ctx.flow.queue_name(offer.service),
        pickup_url=urls.pickup_url(ctx.settings, offer_id),
        dial_action_url=urls.agent_dial_done_url(ctx.settings, offer_id))
    if not await offers.answered(ctx.pool, offer_id, now):
        # A repeat of this webhook is answered the same and counted once; an offer that
        # already ended (a manager's reset, a lost race) bridges nobody.
        current = await offers.get(ctx.pool, offer_id)
        if current is not None and current.state == "answered":
            return respond(bridge)
        return respond(twiml.say_and_hang_up([ctx.flow.prompt("caller_gone")], ctx.flow.voice))
    if await offers.waiting_in(ctx.pool, offer.service) == 0:
        await offers.finish(ctx.pool, offer_id, now, result="no_caller",
                            agent_status="available")
        ctx.metrics.offers.labels(offer.service, "no_caller").inc()
        return respond(twiml.say_and_hang_up([ctx.flow.prompt("caller_gone")], ctx.flow.voice))
    ctx.metrics.offers.labels(offer.service, "answered").inc()
    return respond(bridge)


async def fallback(request: web.Request) -> web.Response:
    """The agent leg's FallbackUrl: its own short apology, no database, no caller's TwiML."""
    return respond(fallback_twiml("agent_fallback", request.app[keys.SETTINGS],
                                  request.app[keys.FLOW]))


async def no_key(request: web.Request) -> web.Response:
    """No key after the prompt: a voicemail or nobody; a missed offer, the next agent is tried."""
    ctx = context(request)
    offer_id = _offer_id(request)
    if offer_id is not None:
        ended = await offers.finish(ctx.pool, offer_id, ctx.clock.now(), result="no_key",
                                    agent_status="offline", note=NO_KEY_NOTE)
        if ended is not None:
            ctx.metrics.offers.labels(ended.service, "no_key").inc()
            await request.app[keys.DISPATCHER].wake()
    return respond(twiml.say_and_hang_up([], ctx.flow.voice))


async def dial_done(request: web.Request) -> web.Response:
    """The agent's <Dial> ended: the conversation is over, hang up the agent's leg."""
    return respond(twiml.say_and_hang_up([], context(request).flow.voice))


async def status(request: web.Request) -> web.Response:
    """The agent leg's callbacks: wrap-up after a call, offline after a missed offer."""
    ctx = context(request)
    data = await form(request)
    offer_id, call_status = _offer_id(request), field(data, "CallStatus")
    now = ctx.clock.now()
    if offer_id is None:
        return respond(twiml.empty())
    ended = None
    if call_status == "completed":
        ended = await offers.finish(
            ctx.pool, offer_id, now, result="completed", agent_status="wrap_up",
            wrap_up=timedelta(seconds=ctx.settings.wrap_up_seconds))
    elif call_status in FAILED:
        # A missed offer takes the agent out of rotation until they say they are back.
        ended = await offers.finish(
            ctx.pool, offer_id, now, result=call_status,
            agent_status="available" if call_status == "canceled" else "offline",
            note=f"offre manquée : {FAILED[call_status]}")
        if ended is not None:
            ctx.metrics.offers.labels(ended.service, call_status).inc()
    if ended is not None:
        await request.app[keys.DISPATCHER].wake()
    return respond(twiml.empty())
