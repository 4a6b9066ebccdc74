"""Answering webhooks when PostgreSQL does not: a deadline, the journal, per-route TwiML.

Each webhook's handler gets one budget (IVR_DB_DEADLINE_SECONDS) for everything it asks the
database, acquire and statements together. Past it, or on a connection-level failure, the
webhook is journaled (ivr/journal.py) and answered from what the server holds in memory: the
menu goes on (the flow engine is pure), a queued caller hears the waiting music again and
keeps their place in Twilio's queue, callbacks get an empty answer. While the journal holds
entries, later webhooks are journaled too without touching the database, so the replay keeps
their order.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from ivr import keys, twiml, urls
from ivr.fallback import fallback_twiml, is_agent_route
from ivr.flow import engine
from ivr.flow.engine import CallerInput, Position
from ivr.flow.model import Prompt
from ivr.journal import Journal
from ivr.pinned_clock import pinned
from ivr.views.context import field, number
from ivr.views.render import render

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TWIML = "application/xml"
# Failures that say "the database is not there", as opposed to a bug in a statement.
OUTAGE_ERRORS = (TimeoutError, OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
                 asyncpg.exceptions.OperatorInterventionError,
                 asyncpg.exceptions.InsufficientResourcesError)
# Webhooks whose writes the journal keeps. The agent's answer is not among them: without the
# database it is not bridged (see `_agent_answer`), so replaying it would record a false pickup.
JOURNALED = frozenset({"voice", "gather", "wait", "queue_done", "pickup", "status",
                       "agent_status", "agent_no_key", "survey", "transfer",
                       "callback_reached", "callback_dial_done"})
AGENT_NOT_BRIDGED = ("Incident technique : cet appel ne peut pas vous être transmis pour le "
                     "moment. Au revoir.")


class Outage:
    """The journal, the handlers still running past their deadline, and the degraded count."""

    def __init__(self, journal: Journal, deadline_seconds: float,
                 registry: CollectorRegistry | None = None) -> None:
        self.journal = journal
        self.deadline_seconds = deadline_seconds
        self.late: set[asyncio.Task[web.StreamResponse]] = set()
        self.answered = Counter("ivr_webhook_degraded",
                                "Webhooks answered without the database (deadline or outage).",
                                ["route"], registry=registry)

    def prime(self, routes: list[str]) -> None:
        """Export every route's series at 0."""
        for route in routes:
            self.answered.labels(route)

    def finished(self, task: asyncio.Task[web.StreamResponse]) -> None:
        """A handler left running past its deadline has ended."""
        self.late.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("late handler failed after its deadline: %r", task.exception())


OUTAGE = web.AppKey("outage", Outage)


class DatabaseLate(Exception):
    """The handler did not finish within its database budget."""


async def within(request: web.Request, handler: Handler, outage: Outage) -> web.StreamResponse:
    """Run the handler; past the deadline leave it running (it may still write) and raise.

    Not cancelled: a statement already sent to a frozen server may still be applied when it
    wakes, and the handler then counts its metrics as it would have; the journal's replay of
    the same webhook is then a no-op thanks to the event keys.
    """
    async def run() -> web.StreamResponse:
        return await handler(request)

    task = asyncio.create_task(run())
    try:
        done, _ = await asyncio.wait({task}, timeout=outage.deadline_seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        outage.late.add(task)
        task.add_done_callback(outage.finished)
        raise DatabaseLate()
    return task.result()


async def answer(request: web.Request, handler: Handler, route: str) -> web.StreamResponse:
    """The handler's answer within the deadline, else the journal and a degraded answer."""
    outage = request.app.get(OUTAGE)
    if outage is None:
        return await handler(request)
    now = request.app[keys.CLOCK].now()
    if route in JOURNALED and outage.journal.depth:
        return await _degrade(request, route, outage, now, "journal pending")
    try:
        with pinned(now):  # a handler that outlives its deadline still writes at `now`
            return await within(request, handler, outage)
    except (DatabaseLate, *OUTAGE_ERRORS) as exc:
        return await _degrade(request, route, outage, now, repr(exc))


def entry_of(request: web.Request, route: str, body: bytes, now: datetime) -> dict[str, Any]:
    """What the replay needs to post the webhook again exactly as Twilio signed it."""
    return {"at": now.isoformat(), "route": route, "path": request.raw_path,
            "content_type": request.headers.get("Content-Type", ""),
            "signature": request.headers.get("X-Twilio-Signature", ""),
            "body": base64.b64encode(body).decode("ascii")}


async def _degrade(request: web.Request, route: str, outage: Outage, now: datetime,
                   why: str) -> web.Response:
    """Journal the webhook (when it writes anything) and answer from memory."""
    if route in JOURNALED:
        outage.journal.append(entry_of(request, route, await request.read(), now))
    outage.answered.labels(route).inc()
    log.warning("webhook %s answered without the database (%s)", route, why)
    return web.Response(text=await degraded_twiml(request, route, now), content_type=TWIML)


async def degraded_twiml(request: web.Request, route: str, now: datetime) -> str:
    """What each route answers with no database: the same as usual wherever memory suffices."""
    app = request.app
    flow, settings = app[keys.FLOW], app[keys.SETTINGS]
    data = await request.post()
    crisis = app[keys.CRISIS].remembered(now) if keys.CRISIS in app else None
    if route == "voice":
        return render(engine.begin(flow, now, crisis).action, flow, settings)
    if route == "gather":
        heard = CallerInput(digits=field(data, "Digits")[:8],
                            speech=field(data, "SpeechResult"),
                            confidence=number(data, "Confidence"))
        position = Position.from_query(request.query, flow)
        return render(engine.respond(flow, position, heard, crisis).action, flow, settings)
    if route == "queue_done" and field(data, "QueueResult") not in ("bridged", "hangup"):
        return _back_in_queue(request)
    if route in ("queue_done", "pickup", "status", "agent_status"):
        return twiml.empty()
    if is_agent_route(route):
        # The standardist never hears the callers' apology (nor is sent to reception).
        return twiml.say_and_hang_up([Prompt(text=AGENT_NOT_BRIDGED)], flow.voice)
    return fallback_twiml(route, settings, flow)


def _back_in_queue(request: web.Request) -> str:
    """A caller leaving a queue (overflow) goes to the next one, else back to the same."""
    flow, settings = request.app[keys.FLOW], request.app[keys.SETTINGS]
    service = request.query.get("service", "")
    if service not in flow.services:
        return twiml.leave_queue()
    target = flow.services[service].queue.overflow_to or service
    lang = request.query.get("lang")
    lang = lang if lang in flow.translations else None
    voice_flow = flow.in_language(lang)
    return twiml.enqueue([], voice_flow.voice, queue_name=flow.queue_name(target),
                         wait_url=urls.wait_url(settings, target, lang=lang),
                         action_url=urls.enqueue_done_url(settings, target, lang))
