"""How long a TwiML verb plays to the person on the line."""

from __future__ import annotations

from ivr.flow.speaking import say_seconds
from ivr.simulator.twiml_check import Verb


def verb_seconds(verb: Verb, audio: float) -> float:
    """Seconds a Say, Play (of `audio` seconds) or Pause lasts, loops included."""
    loops = int(verb.attrs.get("loop", "1") or 1) or 1
    if verb.name == "Say":
        return say_seconds(verb.text) * loops
    if verb.name == "Pause":
        return float(verb.attrs.get("length", "1"))
    return audio * loops
