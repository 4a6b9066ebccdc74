"""The TwiML a webhook answers when something inside it failed."""

from __future__ import annotations

from ivr import twiml
from ivr.flow.model import Flow, Prompt, Voice
from ivr.settings import Settings
from ivr.urls import ringback_url

_APOLOGY = "Nous rencontrons une difficulté technique. Veuillez nous excuser."
_CALL_BACK = "Merci de rappeler dans quelques instants. Au revoir."
# What a standardist hears when their leg's webhook failed: never the callers' apology.
AGENT_SORRY = "Une difficulté technique empêche de vous transmettre cet appel. Au revoir."
# A standardist's leg placed for a callback (issue 16) is an agent leg too.
_AGENT_CALLBACK_ROUTES = ("callback_agent", "callback_dial_done")
# A queued caller's callback key and a called-back caller's answer: an empty document lets
# the wait, or the bridge to the standardist, go on.
_EMPTY_ROUTES = ("status", "agent_status", "pickup", "callback_request", "callback_reached")


def is_agent_route(route: str) -> bool:
    """True for the webhooks of a leg placed to a standardist."""
    return route.startswith("agent_") or route in _AGENT_CALLBACK_ROUTES


def fallback_twiml(route: str, settings: Settings, flow: Flow | None) -> str:
    """An apology and a route to reception, or for a waiting caller one more ringback round."""
    voice = flow.voice if flow else Voice()
    if route in _EMPTY_ROUTES:
        return twiml.empty()
    if is_agent_route(route):
        # The agent leg: no dial to reception (that would put a standardist on hold there).
        return twiml.say_and_hang_up([Prompt(text=AGENT_SORRY)], voice)
    if route == "wait":
        # A queued caller keeps their place through a short database outage.
        return twiml.wait_music(voice, music_url=None, ringback_url=ringback_url(settings),
                                announcement=None)
    apology = flow.prompt("technical_error") if flow else Prompt(text=_APOLOGY)
    if settings.reception_number:
        return twiml.dial_number([apology], voice, settings.reception_number)
    return twiml.say_and_hang_up([apology, Prompt(text=_CALL_BACK)], voice)

