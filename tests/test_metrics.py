"""/metrics after simulated traffic: valid for promtool, right values, and through Prometheus."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
from pathlib import Path

import aiohttp
import pytest

from ivr import keys
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.script import AgentScript, CallerScript, Press
from ivr.store import agents
from tests.conftest import OPEN, ROOT, paris
from tests.helpers import key_seconds

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
needs_promtool = pytest.mark.skipif(  # make test installs it; a bare pytest may lack it
    PROMTOOL is None, reason="promtool is missing: run `make test`, which installs it")


async def _traffic(h: Harness) -> None:
    """Four routed calls with known waits: 4 s and 12 s (met), 22 s (missed), one abandoned."""
    pool = h.app[keys.POOL]
    for i, (answer_after, service_key) in enumerate(((4, "2"), (12, "3"), (22, "2"))):
        contact = f"+3347700000{i}"
        service = {"2": "immigration", "3": "road_safety"}[service_key]
        agent = await agents.add(pool, f"A{i}", contact, [service], h.clock.now())
        await agents.set_status(pool, agent.id, "available", h.clock.now())
        h.twilio.agent_scripts[contact] = AgentScript(answer_after=answer_after, talk_seconds=5)
        await h.twilio.call(CallerScript(inputs=(Press(service_key),), talk_seconds=5))
        await h.twilio.settle()
        await agents.set_status(pool, agent.id, "offline", h.clock.now())
    await h.twilio.call(CallerScript(inputs=(Press("1"),), hangup_after=5))


async def _metrics_text(h: Harness) -> str:
    async with aiohttp.ClientSession() as session, session.get(
            h.settings.public_url + "/metrics") as response:
        assert response.status == 200
        return await response.text()


@needs_promtool
async def test_metrics_pass_promtool_and_count_rings(settings: Settings, flow: Flow,
                                                     db_url: str) -> None:
    """After traffic, /metrics passes `promtool check metrics` and holds the right values."""
    patient = settings.with_overrides(offer_timeout_seconds=30)
    async with running(patient, flow, db_url, paris(OPEN)) as h:
        await _traffic(h)
        text = await _metrics_text(h)
        registry = h.app[keys.METRICS].registry
        sample = registry.get_sample_value
        assert sample("ivr_pickup_rings_bucket", {"service": "immigration", "le": "4.0"}) == 1
        assert sample("ivr_pickup_rings_count", {"service": "immigration"}) == 2
        assert sample("ivr_pickup_rings_bucket", {"service": "road_safety", "le": "4.0"}) == 1
        assert sample("ivr_calls_total", {"service": "none", "outcome": "menu_hangup"}) == 1
        assert sample("ivr_answered_before_target_total", {"service": "immigration"}) == 1
        assert sample("ivr_answered_before_target_total", {"service": "road_safety"}) == 1
        # Callers who chose nothing never waited: no ring or wait series of theirs.
        assert sample("ivr_pickup_rings_count", {"service": "none"}) is None
        assert sample("ivr_answered_before_target_total", {"service": "none"}) is None
        assert sample("ivr_menu_choices_total", {"service": "immigration", "input": "dtmf"}) == 2
    assert PROMTOOL is not None
    done = await asyncio.to_thread(subprocess.run, [PROMTOOL, "check", "metrics"], input=text,
                                   capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'ivr_agents{service="immigration",status="offline"} 2.0' in text


@pytest.mark.parametrize(("target_ring", "before"), [(3, 0.0), (4, 1.0)])
async def test_answered_before_target_follows_the_setting(
        settings: Settings, flow: Flow, db_url: str, target_ring: int, before: float) -> None:
    """A pickup in ring 3 counts before the target when IVR_TARGET_RING is 4, not when 3."""
    chosen = settings.with_overrides(offer_timeout_seconds=30, target_ring=target_ring)
    async with running(chosen, flow, db_url, paris(OPEN)) as h:
        pool = h.app[keys.POOL]
        agent = await agents.add(pool, "A", "+33477000001", ["immigration"], h.clock.now())
        await agents.set_status(pool, agent.id, "available", h.clock.now())
        # The standardist's key prompt is part of the wait: the pickup still lands in ring 3.
        h.twilio.agent_scripts["+33477000001"] = AgentScript(
            answer_after=12 - key_seconds(flow, "immigration"), talk_seconds=5)
        result = await h.twilio.call(CallerScript(inputs=(Press("2"),), talk_seconds=5))
        await h.twilio.settle()
        sample = h.app[keys.METRICS].registry.get_sample_value
        assert result.rings == 3
        assert sample("ivr_pickup_rings_count", {"service": "immigration"}) == 1
        assert sample("ivr_answered_before_target_total", {"service": "immigration"}) == before


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _query(session: aiohttp.ClientSession, base: str, promql: str) -> list[dict[str, object]]:
    async with session.get(f"{base}/api/v1/query", params={"query": promql}) as response:
        body = json.loads(await response.text())
    assert body["status"] == "success", body
    result: list[dict[str, object]] = body["data"]["result"]
    return result


async def _wait_for(session: aiohttp.ClientSession, base: str, promql: str,
                    seconds: float = 60) -> list[dict[str, object]]:
    """Poll Prometheus until the query has a result (bounded in time)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            found = await _query(session, base, promql)
        except (aiohttp.ClientError, ValueError):
            found = []  # not up yet, or "Service Unavailable" while it starts
        if found or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.5)


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is missing: run `make test`")
async def test_prometheus_scrapes_the_share_before_fifth_ring(
        settings: Settings, flow: Flow, db_url: str, tmp_path: Path) -> None:
    """A real Prometheus scraping the app reports the share before the 5th ring we made."""
    patient = settings.with_overrides(offer_timeout_seconds=30)
    async with running(patient, flow, db_url, paris(OPEN)) as h:
        target = h.settings.public_url.removeprefix("http://")
        port = _free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: [{ROOT / 'metrics' / 'prometheus' / 'rules.yml'}]\n"
            "scrape_configs:\n"
            f"  - job_name: ivr\n    static_configs: [{{targets: ['{target}']}}]\n")
        assert PROMETHEUS is not None
        proc = subprocess.Popen(  # noqa: ASYNC220 -- started once; it runs beside the test
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                assert await _wait_for(session, base, 'up{job="ivr"} == 1')
                await asyncio.sleep(2)  # a scrape of the zeroed series before any call
                await _traffic(h)
                share = await _wait_for(
                    session, base,
                    'sum(ivr_pickup_rings_bucket{le="4.0"}) / sum(ivr_pickup_rings_count) '
                    'and sum(ivr_pickup_rings_count) == 3')
                per_service = await _wait_for(
                    session, base, 'sum by (service) (ivr_calls_total{outcome="answered"}) > 0')
                rule = await _wait_for(session, base,
                                       "ivr:answered_before_target_all:ratio_1h > 0.6")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert float(share[0]["value"][1]) == pytest.approx(2 / 3)  # type: ignore[index]
    answered = {r["metric"]["service"]: float(r["value"][1])  # type: ignore[index]
                for r in per_service}
    assert answered == {"immigration": 2.0, "road_safety": 1.0}
    assert float(rule[0]["value"][1]) == pytest.approx(2 / 3)  # type: ignore[index]
