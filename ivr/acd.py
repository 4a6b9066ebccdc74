"""Automatic call distribution: offer waiting callers to free agents, oldest caller first."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from ivr import urls
from ivr.callbacks import placing
from ivr.clock import Clock
from ivr.dialer import Dialer
from ivr.metrics import Metrics
from ivr.settings import Settings
from ivr.store import offers

log = logging.getLogger(__name__)
MAX_OFFERS_PER_PASS = 20
# Twilio's no-answer callback normally ends an offer; this only catches a lost callback
# (Twilio may ring up to 5 s past the REST `Timeout`, hence more than that).
STALE_GRACE = timedelta(seconds=20)


@dataclass(frozen=True)
class Offering:
    """What making offers needs, and nothing else of the app."""

    pool: asyncpg.Pool
    dialer: Dialer
    settings: Settings
    clock: Clock
    metrics: Metrics

    @property
    def stale_after(self) -> timedelta:
        """How long a ringing offer may go without its final callback."""
        return timedelta(seconds=self.settings.offer_timeout_seconds) + STALE_GRACE

    @property
    def gone_after(self) -> timedelta:
        """How long a queued caller's waitUrl may stop before they count as gone."""
        return timedelta(seconds=self.settings.queue_gone_seconds)


async def offer_waiting(deps: Offering) -> int:
    """Place as many offers as there are callers without one and free agents for them."""
    placed = 0
    for _ in range(MAX_OFFERS_PER_PASS):
        claim = await offers.claim(deps.pool, deps.clock.now(), deps.stale_after,
                                   deps.gone_after)
        if claim is None:
            break
        if not await place(deps, claim):
            break
        placed += 1
    return placed


async def place(deps: Offering, claim: offers.Claim) -> bool:
    """One claim becomes one REST call to the agent; False (offer ended) if Twilio refused."""
    settings = deps.settings
    try:
        sid = await deps.dialer.place_call(
            to=claim.contact, answer_url=placing.agent_answer_url(settings, claim),
            status_url=urls.agent_status_url(settings, claim.offer_id),
            fallback_url=urls.agent_fallback_url(settings, claim.offer_id),
            ring_seconds=settings.offer_timeout_seconds)
    except Exception:
        log.exception("placing offer %s failed", claim.offer_id)
        deps.metrics.offers.labels(claim.service, "error").inc()
        await offers.finish(deps.pool, claim.offer_id, deps.clock.now(), result="error",
                            agent_status="available")
        return False
    await offers.placed(deps.pool, claim.offer_id, sid)
    deps.metrics.offers.labels(claim.service, "placed").inc()
    return True
