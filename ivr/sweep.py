"""Nothing stays stuck: offers whose final callback never came, callers who left unseen.

Run by the dispatcher at start-up and then every SWEEP_EVERY of the app's clock; one
instance at a time (a transaction-level advisory lock that the others skip).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ivr import acd, outcomes
from ivr.rings import RingPolicy
from ivr.store import calls, offers

SWEEP_LOCK_KEY = 0x1F5_5EE9
SWEEP_EVERY = timedelta(seconds=15)
# Past the end of a conversation, the agent leg's `completed` callback (retried once by
# Twilio) has had this long to come.
ORPHAN_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Swept:
    """What one sweep ended."""

    expired: int = 0
    orphaned: int = 0
    gone: int = 0


# Twilio's final statuses of a call, and what the agent becomes when an offer ends with one.
FINAL_AGENT_STATUS = {"completed": "available", "canceled": "available",
                      "no-answer": "offline", "busy": "offline", "failed": "offline"}


async def reconcile(deps: acd.Offering) -> int:
    """After a start (a crash may have lost final callbacks): ask Twilio how each live offer's
    agent call ended and end those that did; how many were ended."""
    ended = 0
    for offer_id, agent_call_sid in await offers.live_placed(deps.pool):
        status = await deps.dialer.call_status(agent_call_sid)
        if status not in FINAL_AGENT_STATUS:
            continue  # still ringing or talking, or Twilio could not tell
        done = await offers.finish(
            deps.pool, offer_id, deps.clock.now(), result=f"reconciled:{status}",
            agent_status=FINAL_AGENT_STATUS[status],
            note=None if FINAL_AGENT_STATUS[status] == "available"
            else "offre manquée : pas de réponse")
        ended += done is not None
    return ended


async def sweep(deps: acd.Offering) -> Swept:
    """Expire lost offers, free their agents, and end callers whose waitUrl stopped."""
    now = deps.clock.now()
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", SWEEP_LOCK_KEY):
            return Swept()  # another instance is sweeping
        expired = await offers.expire_stale(conn, now, deps.stale_after)
        orphaned = await offers.end_orphaned(conn, now, ORPHAN_AFTER)
        gone = await offers.gone_callers(conn, now, deps.gone_after)
    rings = RingPolicy(deps.settings.ring_cycle_seconds, deps.settings.target_ring)
    for call_sid, seen_at in gone:
        # They left at some point after their last waitUrl: that is the wait they are sure
        # to have had, so the abandon is counted with it.
        outcomes.count(deps.metrics, await calls.hang_up(deps.pool, call_sid, seen_at, rings))
    return Swept(expired, orphaned, len(gone))
