"""Every /twilio/ request is checked against X-Twilio-Signature before its handler runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web

from ivr import degraded, keys, twilio_form
from ivr.fallback import fallback_twiml
from ivr.replay import replay_time, replayed

log = logging.getLogger(__name__)
MAX_FORM_BYTES = twilio_form.MAX_FORM_BYTES
TWIML = "application/xml"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def _reject(request: web.Request, reason: str) -> web.Response:
    request.app[keys.METRICS].webhook_rejected.labels(reason).inc()
    log.warning("rejected %s %s: %s", request.method, request.path, reason)
    return web.Response(status=403, text=f"forbidden: {reason}\n")


@web.middleware
async def twilio_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Check the signature, limit the body, time the handler, and never answer a 500."""
    if not request.path.startswith("/twilio/"):
        return await handler(request)
    try:
        form = await twilio_form.read(request)
        params = twilio_form.query(request)
    except web.HTTPRequestEntityTooLarge:
        request.app[keys.METRICS].webhook_rejected.labels("too_large").inc()
        return web.Response(status=413, text="request body too large\n")
    except twilio_form.Refusal as refusal:
        request.app[keys.METRICS].webhook_rejected.labels(refusal.reason).inc()
        log.warning("refused %s %s: %s", request.method, request.path, refusal.reason)
        return web.Response(status=refusal.status, text=f"refused: {refusal.reason}\n")
    signature = request.headers.get("X-Twilio-Signature")
    if not signature:
        return _reject(request, "missing_signature")
    # The URL Twilio signed: our public base plus the path and query exactly as received.
    url = request.app[keys.SETTINGS].public_url + request.raw_path
    try:
        valid = request.app[keys.VALIDATOR].validate(url, form, signature)
    except Exception as exc:  # a malformed header must not become a 500 (nor a traceback)
        log.warning("signature check failed: %r", exc)
        return _reject(request, "validator_error")
    if not valid:
        return _reject(request, "bad_signature")
    try:
        twilio_form.check_query(params)
    except twilio_form.Refusal as refusal:
        request.app[keys.METRICS].webhook_rejected.labels(refusal.reason).inc()
        return web.Response(status=refusal.status, text=f"refused: {refusal.reason}\n")
    request[twilio_form.FORM_KEY] = twilio_form.clean(form)
    return await _answer(request, handler)


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route.name or "unknown"
    metrics = request.app[keys.METRICS]
    started = time.perf_counter()
    try:
        at = replay_time(request)
        if at is not None:  # a journaled webhook, posted again once the database is back
            return await replayed(request, handler, at)
        return await degraded.answer(request, handler, route)
    except web.HTTPException:
        raise
    except Exception as exc:
        if isinstance(exc, DATABASE_ERRORS):
            metrics.database_errors.inc()
        metrics.webhook_errors.labels(route).inc()
        log.exception("webhook %s failed; answering fallback TwiML", route)
        flow = request.app.get(keys.FLOW)
        body = fallback_twiml(route, request.app[keys.SETTINGS], flow)
        return web.Response(text=body, content_type=TWIML)
    finally:
        metrics.webhook_duration.labels(route).observe(time.perf_counter() - started)
