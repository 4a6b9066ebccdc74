"""Another prefecture's flow, three services of its own names: loads, routes, is measured."""

from __future__ import annotations

import aiohttp

from ivr import keys
from ivr.flow.loader import load_flow
from ivr.settings import Settings
from ivr.simulator.harness import running
from ivr.simulator.script import AgentScript, CallerScript, Press, Say, Silence
from ivr.store import agents
from tests.conftest import ROOT, paris

EXAMPLE = ROOT / "flows" / "exemple-trois-services.yaml"


async def test_three_services_route_and_are_measured(settings: Settings, db_url: str) -> None:
    """Key 2 reaches 'vehicules', answered by its agent; the metrics carry the flow's names."""
    flow = load_flow(EXAMPLE)
    async with running(settings.with_overrides(flow_path=EXAMPLE), flow, db_url,
                       paris("2026-11-25T10:00")) as h:
        pool = h.app[keys.POOL]
        auth = {"Authorization": f"Bearer {h.settings.admin_token}"}
        async with aiohttp.ClientSession() as http:
            refused = await http.post(f"{h.settings.public_url}/admin/agents", headers=auth,
                                      json={"name": "Léa", "contact": "+33477000009",
                                            "services": ["immigration"]})
            assert refused.status == 400
            assert "etrangers, vehicules, reception" in (await refused.json())["error"]
        agent = await agents.add(pool, "Paul", "+33477000001", ["vehicules"], h.clock.now(),
                                 flow.services)
        await agents.set_status(pool, agent.id, "available", h.clock.now())
        h.twilio.agent_scripts["+33477000001"] = AgentScript(answer_after=3, talk_seconds=10)
        routed = await h.twilio.call(CallerScript(inputs=(Press("2", at=0.5),),
                                                  talk_seconds=10))
        served = await h.twilio.call(CallerScript(inputs=(Say("un passeport"), Silence())))
        await h.twilio.settle()
        registry = h.app[keys.METRICS].registry
        sample = registry.get_sample_value
        assert routed.queues == ["exemple-vehicules"], routed.transcript
        assert routed.queue_result == "bridged"
        assert "Nous vous mettons en relation avec le service des véhicules." in routed.heard_text
        assert sample("ivr_calls_total", {"service": "vehicules", "outcome": "answered"}) == 1
        assert sample("ivr_queue_wait_seconds_count", {"service": "vehicules"}) == 1
        assert sample("ivr_calls_total", {"service": "etrangers", "outcome": "abandoned"}) == 0
        assert sample("ivr_calls_total", {"service": "none", "outcome": "self_served"}) == 1
        assert sample("ivr_calls_total", {"service": "immigration", "outcome": "answered"}) \
            is None
    assert served.queues == []
    assert "se demandent en mairie" in served.heard_text
