"""Automatic call distribution: offer waiting callers to free agents, oldest caller first."""

from __future__ import annotations

import logging
from datetime import timedelta

from aiohttp import web

from ivr import keys, urls
from ivr.callbacks import placing
from ivr.store import offers

log = logging.getLogger(__name__)
MAX_OFFERS_PER_PASS = 20
# Twilio's no-answer callback normally ends an offer; this only catches a lost callback.
STALE_GRACE = timedelta(seconds=20)


async def offer_waiting(app: web.Application) -> int:
    """Place as many offers as there are callers without one and free agents for them."""
    settings, pool, dialer = app[keys.SETTINGS], app[keys.POOL], app[keys.DIALER]
    metrics = app[keys.METRICS]
    stale_after = timedelta(seconds=settings.offer_timeout_seconds) + STALE_GRACE
    placed = 0
    for _ in range(MAX_OFFERS_PER_PASS):
        claim = await offers.claim(pool, app[keys.CLOCK].now(), stale_after)
        if claim is None:
            break
        try:
            sid = await dialer.place_call(
                to=claim.contact, answer_url=placing.agent_answer_url(settings, claim),
                status_url=urls.agent_status_url(settings, claim.offer_id),
                ring_seconds=settings.offer_timeout_seconds)
        except Exception:
            log.exception("placing offer %s failed", claim.offer_id)
            metrics.offers.labels(claim.service, "error").inc()
            await offers.finish(pool, claim.offer_id, app[keys.CLOCK].now(), result="error",
                                agent_status="available")
            break
        await offers.placed(pool, claim.offer_id, sid)
        metrics.offers.labels(claim.service, "placed").inc()
        placed += 1
    return placed
