"""Where a claimed offer's agent leg goes: the queue's caller, or a pending callback."""

from __future__ import annotations

from ivr import urls
from ivr.settings import Settings
from ivr.store.offers import Claim


def agent_answer_url(settings: Settings, claim: Claim) -> str:
    """The agent leg's answer URL: a callback's offer calls the caller back once answered."""
    if claim.callback_id is not None:
        return urls.callback_agent_url(settings, claim.offer_id, claim.callback_id)
    return urls.agent_answer_url(settings, claim.offer_id)
