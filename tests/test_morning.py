"""A simulated morning: the server's per-service counts match an independent count."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from ivr import keys
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.harness import running
from ivr.simulator.http import Disorder, Latency
from ivr.simulator.script import AgentScript, CallerScript, Press
from ivr.store import agents
from tests.conftest import paris
from tests.helpers import lived_outcome

KEYS = {"1": "crisis", "2": "immigration", "3": "road_safety", "4": "user_relations"}



@pytest.mark.parametrize("harsh", [False, True], ids=["kind", "harsh"])
async def test_simulated_morning_counts_match(settings: Settings, flow: Flow,
                                              db_url: str, harsh: bool) -> None:
    """60 callers from 09:00 to 09:20, 3 agents until 09:17: counts per service and outcome;
    harsh: 50-150 ms per round trip, callbacks twice and out of order, Twilio ringing 5 s past
    the REST Timeout, the last agent's final callbacks lost, a fourth agent's phone on
    voicemail."""
    dice = random.Random(2026)
    latency = Latency(0.05, 0.15, seed=2026) if harsh else None
    disorder = Disorder(twice=0.5, max_delay=2.0) if harsh else None
    async with running(settings, flow, db_url, paris("2026-11-25T09:00"), latency=latency,
                       disorder=disorder) as h:
        pool = h.app[keys.POOL]
        h.twilio.timeout_slack = 5.0 if harsh else 0.0
        staff = [AgentScript(answer_after=3, talk_seconds=90),
                 AgentScript(answer_after=9, talk_seconds=150),
                 AgentScript(answer_after=17, talk_seconds=120, final_callback=not harsh)]
        if harsh:
            staff.append(AgentScript("voicemail", talk_seconds=30))
        for i, script in enumerate(staff):
            contact = f"+3347700010{i}"
            agent = await agents.add(pool, f"Standardiste {i}", contact,
                                     [*KEYS.values(), "reception"], h.clock.now())
            await agents.set_status(pool, agent.id, "available", h.clock.now())
            h.twilio.agent_scripts[contact] = script
        plan = []
        for i in range(60):
            key = dice.choice(list(KEYS))
            # Most callers are patient; some give up while waiting (the menu lasts ~60 s).
            patience = dice.choice([None, None, None, 75.0, 95.0, 140.0])
            plan.append((key, CallerScript(inputs=(Press(key),), hangup_after=patience,
                                           talk_seconds=dice.uniform(30, 150),
                                           from_number=f"+3361000{i:04d}"),
                         dice.uniform(0, 1200)))

        async def break_time() -> None:
            """At 09:17 every standardist signs out: the last callers find nobody."""
            await h.clock.sleep(1020)
            for agent in await agents.list_all(pool, h.clock.now()):
                await agents.set_status(pool, agent.id, "offline", h.clock.now(), "pause")

        results, _ = await asyncio.wait_for(asyncio.gather(
            asyncio.gather(*(h.twilio.call(script, after=at) for _, script, at in plan)),
            h.clock.spawn(break_time())), timeout=300)
        await h.twilio.settle()
        rows = await pool.fetch(
            """SELECT requested_service, outcome, target_met, count(*) AS n FROM calls
               GROUP BY 1, 2, 3""")
        registry = h.app[keys.METRICS].registry
        metric_counts = {
            (service, outcome): registry.get_sample_value(
                "ivr_calls_total", {"service": service, "outcome": outcome}) or 0.0
            for service in KEYS.values()
            for outcome in ("answered", "abandoned", "unanswered")}

    assert all(r.error is None for r in results), [r.error for r in results if r.error]
    expected: Counter[tuple[str, str]] = Counter(
        (KEYS[key], lived_outcome(result, settings.target_ring))
        for (key, _, _), result in zip(plan, results, strict=True))
    server: Counter[tuple[str, str]] = Counter()
    for row in rows:
        outcome = row["outcome"]
        if outcome == "answered":
            outcome = "met" if row["target_met"] else "missed"
        elif outcome in ("self_served", "menu_hangup"):
            outcome = "left_before_queue"
        server[(row["requested_service"] or "none", outcome)] += row["n"]
    assert server == expected
    if disorder is not None:  # the harsh morning did send callbacks twice, out of order
        assert disorder.copies > disorder.callbacks > 60
    assert sum(expected.values()) == 60
    # The morning exercised every kind of ending the managers report on.
    kinds = {kind for _, kind in expected}
    assert {"met", "missed", "abandoned", "unanswered"} <= kinds, expected
    for (service, outcome), value in metric_counts.items():
        if outcome == "answered":
            want = expected[(service, "met")] + expected[(service, "missed")]
        else:
            want = expected[(service, outcome)]
        assert value == want, (service, outcome)
