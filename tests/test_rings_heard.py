"""Rings as the caller hears them: ringback cycles played, each after a waitUrl round trip."""

from __future__ import annotations

import asyncpg
import pytest

from ivr import keys
from ivr.flow.model import Flow
from ivr.rings import RingPolicy, rings_heard
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.http import Latency
from ivr.simulator.script import AgentScript, CallerScript, CallResult, Press
from ivr.store import agents
from tests.conftest import OPEN, paris
from tests.helpers import key_seconds

# Both on ringback: crisis with a short "connecting" intro, road safety with a long one.
KEYS = {"crisis": "1", "road_safety": "3"}


def test_back_to_back_rounds_give_the_cycle_formula() -> None:
    """With no time between rounds, heard rings are floor(wait / cycle) + 1, as before."""
    rounds = [(5.0 * k, 0.0) for k in range(10)]
    policy = RingPolicy()
    for wait in (0.0, 4.9, 5.0, 12.0, 19.9, 20.0, 33.3):
        assert rings_heard(rounds, wait, 5.0) == policy.ring_of(wait)


def test_round_trips_delay_each_ring() -> None:
    """Rounds 5.2 s apart (0.2 s of network each): at 20.3 s the caller heard 4 rings, not 5."""
    rounds = [(5.2 * k, 0.0) for k in range(5)]  # the 5th clip starts at 20.8 + 0.2 s
    assert rings_heard(rounds, 20.3, 5.0) == 4
    assert rings_heard(rounds, 21.0, 5.0) == 5
    # The last round's answer left at 20.8 s, but the pickup at 20.9 s came before it played.
    assert rings_heard(rounds, 20.9, 5.0) == 4


def test_speech_before_the_clip_and_no_round_yet() -> None:
    """An intro spoken before the first clip delays ring 1; before any round, it is ring 1."""
    assert rings_heard([], 3.0, 5.0) == 1
    rounds = [(0.0, 4.0), (9.1, 0.0)]  # 4 s intro, clip, 0.1 s round trip
    assert rings_heard(rounds, 9.0, 5.0) == 1
    assert rings_heard(rounds, 9.25, 5.0) == 2


def _pool(h: Harness) -> asyncpg.Pool:
    return h.app[keys.POOL]


async def _one_call(h: Harness, script: AgentScript, caller: CallerScript,
                    service: str = "crisis") -> tuple[CallResult, asyncpg.Record]:
    agent = await agents.add(_pool(h), "Claire", "+33477000001", [service], h.clock.now())
    await agents.set_status(_pool(h), agent.id, "available", h.clock.now())
    h.twilio.agent_scripts["+33477000001"] = script
    result = await h.twilio.call(caller)
    await h.twilio.settle()
    assert result.error is None, result.transcript
    row = await _pool(h).fetchrow("SELECT * FROM calls WHERE call_sid = $1", result.call_sid)
    assert row is not None
    return result, row


@pytest.mark.parametrize("service", ["crisis", "road_safety"])
@pytest.mark.parametrize("answer_after", [4.0, 9.7, 14.8, 19.6, 20.1, 24.7, 25.3, 31.0, 36.2])
async def test_recorded_rings_equal_the_cycles_heard_under_latency(
        settings: Settings, flow: Flow, db_url: str, answer_after: float, service: str) -> None:
    """With 50-150 ms per round trip, the server records the ring the caller heard."""
    patient = settings.with_overrides(offer_timeout_seconds=40)
    async with running(patient, flow, db_url, paris(OPEN),
                       latency=Latency(0.05, 0.15, seed=int(answer_after * 10))) as h:
        result, row = await _one_call(h, AgentScript(answer_after=answer_after, talk_seconds=20),
                                      CallerScript(inputs=(Press(KEYS[service]),),
                                                   talk_seconds=20), service)
    assert result.hold == "ringback"
    assert result.rings == max(result.rings_heard, 1)
    assert (row["outcome"], row["rings"]) == ("answered", result.rings)
    assert row["target_met"] == (result.rings < patient.target_ring)


async def test_latency_makes_cycles_fall_behind_the_formula(
        settings: Settings, flow: Flow, db_url: str) -> None:
    """The intro and 150 ms round trips put the cycles heard behind wait / cycle."""
    patient = settings.with_overrides(offer_timeout_seconds=40)
    async with running(patient, flow, db_url, paris(OPEN), latency=Latency(0.15)) as h:
        # The standardist's key prompt is part of the wait: the pickup still lands in ring 4.
        answer_after = 24.0 - key_seconds(flow, "crisis")
        result, row = await _one_call(h, AgentScript(answer_after=answer_after, talk_seconds=20),
                                      CallerScript(inputs=(Press("1"),), talk_seconds=20))
    clips = [line for line in result.transcript.lines if "ringback.wav" in line]
    assert result.queue_wait is not None
    assert result.rings == len(clips) < RingPolicy().ring_of(result.queue_wait)
    assert (row["rings"], row["target_met"]) == (result.rings, True)


async def test_abandoned_rings_are_the_cycles_heard(
        settings: Settings, flow: Flow, db_url: str) -> None:
    """A caller who hangs up waiting is recorded with the rings they heard, under latency."""
    patient = settings.with_overrides(offer_timeout_seconds=60)
    async with running(patient, flow, db_url, paris(OPEN), latency=Latency(0.1)) as h:
        result, row = await _one_call(h, AgentScript("never"),
                                      CallerScript(inputs=(Press("1"),), hangup_after=60.0))
    assert result.ended_by == "caller"
    assert result.hold == "ringback"
    assert (row["outcome"], row["rings"]) == ("abandoned", max(result.rings_heard, 1))


@pytest.mark.parametrize("answer_after", [7.3, 16.0])
async def test_rings_run_on_through_an_overflow(settings: Settings, flow: Flow, db_url: str,
                                                answer_after: float) -> None:
    """Crisis has nobody online: the caller overflows to reception, where the rings go on;
    the server's recorded ring is still the one heard, under latency."""
    patient = settings.with_overrides(offer_timeout_seconds=40)
    async with running(patient, flow, db_url, paris(OPEN),
                       latency=Latency(0.05, 0.15, seed=7)) as h:
        result, row = await _one_call(
            h, AgentScript(answer_after=answer_after, talk_seconds=20),
            CallerScript(inputs=(Press("1"),), talk_seconds=20), "reception")
    assert result.queues == [flow.queue_name("crisis"), flow.queue_name("reception")]
    assert result.hold == "ringback"
    assert result.rings == max(result.rings_heard, 1)
    assert (row["outcome"], row["rings"]) == ("answered", result.rings)
