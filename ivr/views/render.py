"""Turn an engine action into TwiML, with the URLs it needs."""

from __future__ import annotations

from ivr import twiml, urls
from ivr.flow.engine import Action, Ask, Close, End, Position, Route
from ivr.flow.model import Flow
from ivr.settings import Settings


def render(action: Action, flow: Flow, settings: Settings) -> str:
    """The TwiML for one engine action, in the voice of the caller's language."""
    lang = action.language if action.language in flow.translations else None
    flow = flow.in_language(lang)
    if isinstance(action, Ask):
        return twiml.ask(action.prompts, flow.voice,
                         action_url=urls.gather_url(settings, action.position.to_query()),
                         hints=action.hints, timeout=flow.gather_timeout_seconds)
    if isinstance(action, Route):
        return twiml.enqueue(action.prompts, flow.voice,
                             queue_name=flow.queue_name(action.service),
                             wait_url=urls.wait_url(settings, action.service,
                                                    intro=action.intro, lang=lang),
                             action_url=urls.enqueue_done_url(settings, action.service, lang))
    assert isinstance(action, Close | End)
    if isinstance(action, Close) and action.choice:
        where = Position("closed", pending=action.reason, seq=1).to_query()
        return twiml.closed_with_choice(action.prompts[:action.choice],
                                        action.prompts[action.choice:], flow.voice,
                                        action_url=urls.gather_url(settings, where))
    return twiml.say_and_hang_up(action.prompts, flow.voice)
