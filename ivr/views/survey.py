"""The post-call survey: asked after a bridged call the standardist ended, one key per question."""

from __future__ import annotations

from aiohttp import web

from ivr import twiml, urls
from ivr.flow.survey import SATISFACTION, answer_of
from ivr.store import calls, survey
from ivr.views.context import Context, Form, context, field, form, respond


def _question(ctx: Context, service: str, question: str, lang: str | None = None) -> str:
    """The <Gather> of one question, in the caller's language."""
    flow = ctx.flow.in_language(lang)
    flow_survey = flow.survey
    assert flow_survey is not None
    return twiml.ask_key([flow_survey.prompt(question)], flow.voice,
                         action_url=urls.survey_url(ctx.settings, service, question,
                                                    flow.language if flow is not ctx.flow
                                                    else None),
                         timeout=flow_survey.timeout_seconds)


async def after_bridge(ctx: Context, data: Form, call_sid: str, service: str,
                       lang: str | None = None) -> str | None:
    """The survey's first question, when the flow has one and this caller is still there."""
    flow_survey = ctx.flow.survey
    # CallStatus "completed": the caller hung up first; there is nobody left to ask.
    if flow_survey is None or field(data, "CallStatus") != "in-progress" \
            or not flow_survey.asks(call_sid):
        return None
    # A repeated action request asks again, but counts the caller as asked once.
    if await calls.record_event(ctx.pool, call_sid, "survey:asked", "survey", ctx.clock.now(),
                                {"service": service}):
        ctx.metrics.survey_asked.labels(service).inc()
    return _question(ctx, service, SATISFACTION, lang)


async def answer(request: web.Request) -> web.Response:
    """A survey key: stored once per call and question; then the next question or thanks."""
    ctx = context(request)
    data = await form(request)
    lang = request.query.get("lang")
    flow = ctx.flow.in_language(lang)
    flow_survey = flow.survey
    call_sid = field(data, "CallSid")
    service = request.query.get("service", "")
    question = request.query.get("question", "")
    if flow_survey is None or not call_sid or service not in ctx.flow.services \
            or question not in flow_survey.questions():
        return respond(twiml.say_and_hang_up([], ctx.flow.voice))
    value = answer_of(question, field(data, "Digits"))
    if value is None:
        # No key or a wrong one: the caller did not answer; we do not insist.
        return respond(twiml.say_and_hang_up([flow_survey.thanks], flow.voice))
    if await survey.record(ctx.pool, call_sid, question, service, value, ctx.clock.now()):
        ctx.metrics.survey_answers.labels(service, question, value).inc()
    following = flow_survey.next_question(question)
    if following is None:
        return respond(twiml.say_and_hang_up([flow_survey.thanks], flow.voice))
    return respond(_question(ctx, service, following, lang))
