"""Counters complete from the start: every series a call can move is exported at 0 first."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from ivr import keys
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.harness import running
from ivr.simulator.script import AgentScript, CallerScript, Press, Say, Silence
from ivr.store import agents
from tests.conftest import OPEN, paris

COUNTERS = ("ivr_calls_total", "ivr_menu_choices_total", "ivr_menu_failures_total",
            "ivr_closed_calls_total", "ivr_offers_total", "ivr_webhook_errors_total",
            "ivr_webhook_rejected_total", "ivr_transfers_total", "ivr_survey_asked_total",
            "ivr_survey_answers_total", "ivr_answered_before_target_total")
Series = tuple[str, tuple[tuple[str, str], ...]]


def _counters(registry: CollectorRegistry) -> dict[Series, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for metric in registry.collect() for s in metric.samples if s.name in COUNTERS}


async def test_every_series_a_call_moves_was_exported_at_zero(settings: Settings, flow: Flow,
                                                             db_url: str) -> None:
    """Choices (keys, speech), failures, closed calls, offers and survey answers only move
    primed series."""
    async with running(settings, flow, db_url, paris(OPEN)) as h:
        before = _counters(h.app[keys.METRICS].registry)
        assert before[("ivr_menu_choices_total",
                       (("input", "speech"), ("service", "road_safety")))] == 0
        assert before[("ivr_offers_total", (("result", "busy"), ("service", "crisis")))] == 0
        assert before[("ivr_webhook_errors_total", (("route", "gather"),))] == 0
        pool = h.app[keys.POOL]
        for contact, script in (("+33600000001", AgentScript(behaviour="busy")),
                                ("+33600000002", AgentScript(answer_after=2, talk_seconds=5))):
            agent = await agents.add(pool, contact, contact, list(flow.services), h.clock.now())
            await agents.set_status(pool, agent.id, "available", h.clock.now())
            h.twilio.agent_scripts[contact] = script
        for inputs in ((Press("2"),), (Say("ma carte grise"),), (Press("9"), Press("0")),
                       (Silence(), Press("4"))):
            await h.twilio.call(CallerScript(inputs=inputs, talk_seconds=5, hangup_after=300))
            await h.twilio.settle()
        # The standardist hangs up first (5 s of talk): the caller answers the survey.
        await h.twilio.call(CallerScript(inputs=(Press("2"), Press("4"), Press("1")),
                                         talk_seconds=30, hangup_after=300))
        await h.twilio.settle()
        h.clock.advance(12 * 3600)  # the evening: closed
        await h.twilio.call(CallerScript())
        after = _counters(h.app[keys.METRICS].registry)
    moved = {series for series, value in after.items() if value > 0}
    assert moved <= set(before), moved - set(before)
    assert all(before[series] == 0 for series in moved)
    names = {name for name, _ in moved}
    assert {"ivr_menu_choices_total", "ivr_menu_failures_total", "ivr_closed_calls_total",
            "ivr_offers_total", "ivr_calls_total", "ivr_survey_asked_total",
            "ivr_survey_answers_total", "ivr_answered_before_target_total"} <= names
    assert before[("ivr_transfers_total",
                   (("from_service", "immigration"), ("to_service", "road_safety")))] == 0
    assert set(after) == set(before)
