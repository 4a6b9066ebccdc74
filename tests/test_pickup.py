"""Queues, offers and pickup times measured in seconds and rings, on virtual time."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from ivr import keys
from ivr.flow.model import Flow
from ivr.rings import RingPolicy
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.script import AgentScript, CallerScript, CallResult, Press
from ivr.store import agents
from tests.conftest import OPEN, paris
from tests.helpers import key_seconds

# The menu and the immigration info take this long before the caller is queued.
MENU = (Press("2"),)



def _pool(h: Harness) -> asyncpg.Pool:
    return h.app[keys.POOL]


async def _agent(h: Harness, name: str, contact: str, services: list[str],
                 script: AgentScript, *, available: bool = True) -> int:
    agent = await agents.add(_pool(h), name, contact, services, h.clock.now())
    if available:
        await agents.set_status(_pool(h), agent.id, "available", h.clock.now())
    h.twilio.agent_scripts[contact] = script
    return agent.id


async def _row(h: Harness, call_sid: str) -> asyncpg.Record:
    row = await _pool(h).fetchrow("SELECT * FROM calls WHERE call_sid = $1", call_sid)
    assert row is not None
    return row


async def _one(h: Harness, script: CallerScript) -> CallResult:
    result = await h.twilio.call(script)
    await h.twilio.settle()
    assert result.error is None, result.transcript
    return result


@pytest.mark.parametrize(("wait", "ring", "met"), [
    (12.0, 3, True), (19.9, 4, True), (20.0, 5, False)])
async def test_answered_wait_and_ring(settings: Settings, flow: Flow, db_url: str,
                                      wait: float, ring: int, met: bool) -> None:
    """The agent's phone rings, then they press the key: `wait` s after the caller was queued."""
    answer_after = wait - key_seconds(flow, "immigration")
    patient = settings.with_overrides(offer_timeout_seconds=30)
    async with running(patient, flow, db_url, paris(OPEN)) as harness:
        await _agent(harness, "Claire", "+33477000001", ["immigration"],
                     AgentScript(answer_after=answer_after, talk_seconds=30))
        result = await _one(harness, CallerScript(inputs=MENU, talk_seconds=30))
        row = await _row(harness, result.call_sid)
    assert (row["outcome"], row["rings"], row["target_met"]) == ("answered", ring, met)
    assert row["wait_seconds"] == pytest.approx(wait, abs=0.01)
    assert result.rings == ring
    assert result.queue_wait == pytest.approx(wait, abs=0.01)
    assert result.queue_result == "bridged"


async def test_abandoned_at_twelve_seconds(harness: Harness) -> None:
    """The caller hangs up 12 s into the wait: abandoned in ring 3, against the target."""
    await _agent(harness, "Claire", "+33477000001", ["immigration"], AgentScript("never"))
    # A first call that nobody answers tells how long the menu takes before the queue.
    probe = await _one(harness, CallerScript(inputs=MENU, hangup_after=600))
    menu_seconds = await _pool(harness).fetchval(
        "SELECT extract(epoch FROM queued_at - arrived_at) FROM calls WHERE call_sid = $1",
        probe.call_sid)
    await _pool(harness).execute("UPDATE agents SET status = 'available'")
    result = await _one(harness, CallerScript(inputs=MENU,
                                              hangup_after=float(menu_seconds) + 12.0))
    row = await _row(harness, result.call_sid)
    assert (row["outcome"], row["rings"], row["target_met"]) == ("abandoned", 3, False)
    assert row["wait_seconds"] == pytest.approx(12.0, abs=0.01)


async def test_lost_offer_counts_in_the_wait(harness: Harness) -> None:
    """The first agent lets it ring 15 s (then goes offline), the second answers after 3 s
    and presses the key: all of it counts in the wait."""
    first = await _agent(harness, "Ali", "+33477000001", ["immigration"], AgentScript("never"))
    harness.clock.advance(60)  # Ali has been idle longer, so he is offered first
    await _agent(harness, "Béa", "+33477000002", ["immigration"],
                 AgentScript(answer_after=3, talk_seconds=20))
    result = await _one(harness, CallerScript(inputs=MENU, talk_seconds=20))
    row = await _row(harness, result.call_sid)
    assert row["outcome"] == "answered"
    wait = 18.0 + key_seconds(harness.app[keys.FLOW], "immigration")
    assert row["wait_seconds"] == pytest.approx(wait, abs=0.01)
    assert row["rings"] == RingPolicy().ring_of(wait)
    assert result.answered_by == "+33477000002"
    ali = next(a for a in await agents.list_all(_pool(harness), harness.clock.now())
           if a.id == first)
    assert ali.status == "offline"
    assert ali.note
    assert "pas de réponse" in ali.note


async def test_busy_agent_and_wrap_up_are_respected(harness: Harness) -> None:
    """A busy agent gets no offer; after a call the agent is in wrap-up, then available."""
    await _agent(harness, "Busy", "+33477000009", ["immigration"], AgentScript(),
                 available=False)
    await _pool(harness).execute("UPDATE agents SET status = 'busy'")
    await _agent(harness, "Claire", "+33477000001", ["immigration"],
                 AgentScript(answer_after=2, talk_seconds=10))
    result = await _one(harness, CallerScript(inputs=MENU, talk_seconds=10))
    assert result.answered_by == "+33477000001"
    assert [c["To"] for c in harness.twilio.agent_calls] == ["+33477000001"]
    statuses = {a.name: a.status for a in await agents.list_all(_pool(harness),
                                                                  harness.clock.now())}
    assert statuses == {"Busy": "busy", "Claire": "wrap_up"}
    harness.clock.advance(10)
    statuses = {a.name: a.status for a in await agents.list_all(_pool(harness),
                                                                  harness.clock.now())}
    assert statuses["Claire"] == "available"


async def test_longest_idle_agent_first(harness: Harness) -> None:
    """Of two free agents, the one idle longer gets the offer."""
    await _agent(harness, "Recent", "+33477000002", ["road_safety"], AgentScript(answer_after=1))
    await _pool(harness).execute("UPDATE agents SET idle_since = idle_since + interval '5 min'")
    await _agent(harness, "Long idle", "+33477000001", ["road_safety"],
                 AgentScript(answer_after=1))
    result = await _one(harness, CallerScript(inputs=(Press("3"),), talk_seconds=5))
    assert result.answered_by == "+33477000001"


async def test_oldest_caller_first(harness: Harness) -> None:
    """Two callers, one agent: the one who queued first is answered first."""
    await _agent(harness, "Claire", "+33477000001", ["immigration"],
                 AgentScript(answer_after=3, talk_seconds=5))

    first, second = await asyncio.gather(
        harness.twilio.call(CallerScript(inputs=MENU, talk_seconds=5)),
        harness.twilio.call(CallerScript(inputs=MENU, talk_seconds=5,
                                         from_number="+33622222222"), after=2.0))
    await harness.twilio.settle()
    a, b = await _row(harness, first.call_sid), await _row(harness, second.call_sid)
    assert a["outcome"] == b["outcome"] == "answered"
    assert a["answered_at"] < b["answered_at"]


async def test_no_agent_overflows_to_reception_then_unanswered(harness: Harness) -> None:
    """No immigration agent: reception takes the call; nobody at reception: unanswered."""
    await _agent(harness, "Accueil", "+33477000005", ["reception"],
                 AgentScript(answer_after=4, talk_seconds=5))
    result = await _one(harness, CallerScript(inputs=MENU, talk_seconds=5))
    assert result.queues == ["loire-immigration", "loire-reception"]
    row = await _row(harness, result.call_sid)
    assert (row["outcome"], row["requested_service"], row["service"]) == (
        "answered", "immigration", "reception")
    assert row["overflow_reason"] == "no_agent"
    for agent in await agents.list_all(_pool(harness), harness.clock.now()):
        await agents.remove(_pool(harness), agent.id, harness.clock.now())
    alone = await _one(harness, CallerScript(inputs=MENU))
    assert "rappeler plus tard" in alone.heard_text
    assert (await _row(harness, alone.call_sid))["outcome"] == "unanswered"


async def test_max_wait_overflows_to_reception(harness: Harness) -> None:
    """Past road safety's 120 s limit, the caller moves to reception's queue, wait kept."""
    await _agent(harness, "On a call", "+33477000001", ["road_safety"], AgentScript(),
                 available=False)
    await _agent(harness, "Accueil", "+33477000005", ["reception"],
                 AgentScript(answer_after=1, talk_seconds=5))
    # Road safety's only agent is on a long call; reception is busy until t=150 s.
    await _pool(harness).execute("UPDATE agents SET status = 'busy'")

    async def free_reception() -> None:
        await harness.clock.sleep(150)
        await _pool(harness).execute(
            "UPDATE agents SET status = 'available', idle_since = now() "
            "WHERE contact = '+33477000005'")

    result, _ = await asyncio.gather(
        harness.twilio.call(CallerScript(inputs=(Press("3"),), talk_seconds=5)),
        harness.clock.spawn(free_reception()))
    await harness.twilio.settle()
    row = await _row(harness, result.call_sid)
    assert result.queues == ["loire-road_safety", "loire-reception"]
    assert row["overflow_reason"] == "max_wait"
    assert row["outcome"] == "answered"
    assert row["wait_seconds"] > 120


async def test_hold_music_announces_position_after_a_minute(harness: Harness) -> None:
    """Immigration waits on music: position and estimate come after 60 s, then every 60 s."""
    await _agent(harness, "On a call", "+33477000001", ["immigration"], AgentScript(),
                 available=False)
    await _pool(harness).execute("UPDATE agents SET status = 'busy'")
    # Issue 15: the key at once (queued 0.5 s in); the immigration info and "connecting"
    # (~16.6 s) now play in the queue's first round, so the rounds shift.
    result = await _one(harness, CallerScript(inputs=(Press("2", at=0.0),), hangup_after=176))
    announcements = [h for h in result.heard if h.startswith("Vous êtes en position 1")]
    # Each waitUrl round is 12 s of music (issue 16: the app's clips), plus the intro or the
    # announcement when due: announced in the first rounds past 60 s and past 120 s; the
    # caller hangs up at ~175 s (before the 180 s maximum), having heard two announcements.
    assert len(announcements) == 2
    assert "environ une minute." in announcements[0]
    assert (await _row(harness, result.call_sid))["outcome"] == "abandoned"


async def test_duplicate_and_shuffled_callbacks_count_once(harness: Harness) -> None:
    """Status callbacks replayed twice and out of order change no total."""
    from tests.helpers import call_params

    await _agent(harness, "Claire", "+33477000001", ["immigration"],
                 AgentScript(answer_after=5, talk_seconds=5))
    result = await _one(harness, CallerScript(inputs=MENU, talk_seconds=5))
    metrics = harness.app[keys.METRICS].registry
    before = metrics.get_sample_value("ivr_calls_total",
                                      {"service": "immigration", "outcome": "answered"})
    row_before = dict(await _row(harness, result.call_sid))
    url = harness.settings.public_url
    for status in ("completed", "in-progress", "completed", "ringing", "completed"):
        await harness.twilio.notify(f"{url}/twilio/status",
                                    call_params(result.call_sid, CallStatus=status))
    for offer in await _pool(harness).fetch("SELECT id, agent_call_sid FROM offers"):
        for status in ("completed", "no-answer", "completed"):
            await harness.twilio.notify(
                f"{url}/twilio/agent/status?offer={offer['id']}",
                call_params(offer["agent_call_sid"], CallStatus=status))
    after = metrics.get_sample_value("ivr_calls_total",
                                     {"service": "immigration", "outcome": "answered"})
    assert before == after == 1
    assert dict(await _row(harness, result.call_sid)) == row_before
    statuses = [a.status for a in await agents.list_all(_pool(harness), harness.clock.now())]
    assert statuses == ["wrap_up"]


async def test_two_instances_fifty_callers_five_agents(settings: Settings, flow: Flow,
                                                       db_url: str) -> None:
    """Two servers behind a balancer: no agent gets two live offers, every caller ends once."""
    async with running(settings, flow, db_url, paris(OPEN), instances=2) as h:
        for i in range(5):
            await _agent(h, f"Agent {i}", f"+3347700001{i}", ["immigration", "reception"],
                         AgentScript(answer_after=3 + i, talk_seconds=20))

        results = await asyncio.wait_for(asyncio.gather(*(h.twilio.call(CallerScript(
            inputs=MENU, talk_seconds=20, hangup_after=400 if i % 7 else 60,
            from_number=f"+336000000{i:02d}"), after=i * 2.0) for i in range(50))), timeout=240)
        await h.twilio.settle()
        pool = h.app[keys.POOL]
        outcomes = await pool.fetch("SELECT outcome, count(*) AS n FROM calls GROUP BY 1")
        overlaps = await pool.fetchval(
            """SELECT count(*) FROM offers a JOIN offers b ON a.agent_id = b.agent_id
               AND a.id < b.id AND b.created_at < COALESCE(a.ended_at, 'infinity')""")
        double = await pool.fetchval(
            """SELECT count(*) FROM (SELECT picked_call_sid FROM offers
               WHERE picked_call_sid IS NOT NULL GROUP BY 1 HAVING count(*) > 1) x""")
    assert all(r.error is None for r in results)
    counted = {r["outcome"]: r["n"] for r in outcomes}
    assert sum(counted.values()) == 50
    assert None not in counted
    assert overlaps == 0
    assert double == 0
    answered = sum(1 for r in results if r.answered_by)
    assert counted.get("answered", 0) == answered


