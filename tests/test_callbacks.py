"""Callbacks that keep the caller's place (issue 16), on virtual time with the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta

import asyncpg
import pytest
from cryptography.fernet import Fernet

from ivr import acd, keys
from ivr.callbacks.numbers import callable_from, french_number
from ivr.callbacks.ticker import tick
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.callbacks import Phone
from ivr.simulator.harness import Harness, running
from ivr.simulator.script import AgentScript, CallerScript, CallResult, Press
from ivr.store import agents
from tests.conftest import OPEN, paris

KEY = Fernet.generate_key().decode()
IMMIGRATION = (Press("2"),)
ENGLISH_IMMIGRATION = (Press("9", at=3.0), Press("2"))


def _settings(settings: Settings, **extra: object) -> Settings:
    # A ticker that never fires unless a test asks: waitUrls alone drive the passes.
    values: dict[str, object] = {"callback_key": KEY, "callback_retry_seconds": 60,
                                 "callback_poll_seconds": 3600.0, "wrap_up_seconds": 5}
    return settings.with_overrides(**{**values, **extra})


@asynccontextmanager
async def _running(settings: Settings, flow: Flow, db_url: str, start: datetime,
                   instances: int = 1) -> AsyncIterator[Harness]:
    async with running(_settings(settings), flow, db_url, start, instances=instances) as h:
        yield h


def _pool(h: Harness) -> asyncpg.Pool:
    return h.app[keys.POOL]


async def _agent(h: Harness, contact: str, free_after: float,
                 script: AgentScript | None = None) -> int:
    """An immigration agent in wrap-up until `free_after` seconds from now."""
    agent = await agents.add(_pool(h), contact, contact, ["immigration"], h.clock.now())
    await _pool(h).execute(
        """UPDATE agents SET status = 'wrap_up', wrap_up_until = $2, idle_since = $2
           WHERE id = $1""", agent.id, h.clock.now() + timedelta(seconds=free_after))
    h.twilio.agent_scripts[contact] = script or AgentScript(answer_after=3, talk_seconds=40)
    return agent.id


async def _calls(h: Harness, *scripts: tuple[float, CallerScript]) -> list[CallResult]:
    results = await asyncio.gather(*(h.twilio.call(s, after=a) for a, s in scripts))
    await h.twilio.settle()
    for result in results:
        assert result.error is None, result.transcript
    return list(results)


async def _until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait (real time, bounded) for the app's ticker to set something off."""
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the ticker placed nothing")


async def _row(h: Harness, call_sid: str) -> asyncpg.Record:
    row = await _pool(h).fetchrow(
        """SELECT c.*, cb.state AS cb_state, cb.number_enc, cb.attempts
           FROM calls c LEFT JOIN callbacks cb USING (call_sid) WHERE c.call_sid = $1""",
        call_sid)
    assert row is not None
    return row


async def test_callback_keeps_the_callers_place(settings: Settings, flow: Flow,
                                                db_url: str) -> None:
    """Three callers, the middle one asks for a callback: served A, B (called back), C."""
    async with _running(settings, flow, db_url, paris(OPEN)) as h:
        for n, free in enumerate((100, 130, 160)):
            await _agent(h, f"+3347700000{n}", free)
        first, middle, last = await _calls(
            h, (0, CallerScript(IMMIGRATION, from_number="+33600000001")),
            (5, CallerScript(IMMIGRATION, from_number="+33600000002", callback=True)),
            (10, CallerScript(IMMIGRATION, from_number="+33600000003")))
        rows = [await _row(h, r.call_sid) for r in (first, middle, last)]
        phone = h.twilio.phones["+33600000002"]
        metrics = h.app[keys.METRICS].registry
    assert [r["outcome"] for r in rows] == ["answered", "answered_callback", "answered"]
    assert rows[0]["answered_at"] < rows[1]["answered_at"] < rows[2]["answered_at"]
    assert rows[0]["queued_at"] < rows[1]["queued_at"] < rows[2]["queued_at"]
    # B's wait runs from the first queue entry to answering the callback, in rings too.
    wait = (rows[1]["answered_at"] - rows[1]["queued_at"]).total_seconds()
    assert rows[1]["wait_seconds"] == pytest.approx(wait)
    assert rows[1]["rings"] == int(wait // 5) + 1
    assert rows[1]["target_met"] is False
    assert "tapez 1 : vous gardez votre place" in middle.heard_text
    assert middle.queue_result == "leave"
    assert middle.answered_by is None
    assert any("Nous vous rappellerons dans environ" in s for s in middle.heard)
    assert phone.heard == ["La préfecture de la Loire vous rappelle. Un conseiller vous répond."]
    # The number is erased once the callback is done; only the keyed hash stays.
    assert (rows[1]["cb_state"], rows[1]["number_enc"]) == ("done", None)
    assert metrics.get_sample_value("ivr_callbacks_total", {"service": "immigration",
                                                            "result": "answered"}) == 1
    assert metrics.get_sample_value("ivr_calls_total", {"service": "immigration",
                                                        "outcome": "answered_callback"}) == 1
    assert metrics.get_sample_value("ivr_pickup_rings_count", {"service": "immigration"}) == 3


async def test_callback_not_answered_twice_fails(settings: Settings, flow: Flow,
                                                 db_url: str) -> None:
    """The caller does not answer the callback nor its retry: callback_failed, number erased."""
    async with running(_settings(settings, callback_poll_seconds=0.05), flow, db_url,
                       paris(OPEN)) as h:
        await _agent(h, "+33477000001", 150)
        script = CallerScript(IMMIGRATION, callback=True, answers_callback=False)
        (result,) = await _calls(h, (0, script))
        assert (await _row(h, result.call_sid))["state"] == "callback"
        for tries in (1, 2):
            h.clock.advance(75)  # past the wrap-up, then past the retry delay
            await _until(lambda: len(h.twilio.agent_calls) >= tries)  # noqa: B023 (awaited now)
            await h.twilio.settle()
        row = await _row(h, result.call_sid)
        phone = h.twilio.phones["+33611223344"]
        metrics = h.app[keys.METRICS].registry
    assert (row["outcome"], row["cb_state"], row["number_enc"]) == (
        "callback_failed", "failed", None)
    assert row["attempts"] == 2
    assert [answered for _, answered in phone.rang] == [False, False]
    assert (phone.rang[1][0] - phone.rang[0][0]).total_seconds() >= 60
    for outcome, count in (("retry", 1), ("failed", 1), ("requested", 1)):
        assert metrics.get_sample_value("ivr_callbacks_total", {
            "service": "immigration", "result": outcome}) == count


@pytest.mark.parametrize("withheld", ["anonymous", "+266696687", "", "Restricted"])
async def test_withheld_number_gets_no_offer(settings: Settings, flow: Flow, db_url: str,
                                             withheld: str) -> None:
    """A caller whose number is withheld waits past the threshold and is never offered one."""
    async with _running(settings, flow, db_url, paris(OPEN)) as h:
        await _agent(h, "+33477000001", 150)
        (result,) = await _calls(h, (0, CallerScript(IMMIGRATION, from_number=withheld,
                                                     callback=True)))
        row = await _row(h, result.call_sid)
        count = await _pool(h).fetchval("SELECT count(*) FROM callbacks")
    assert "rappelé" not in result.heard_text
    assert count == 0
    assert row["outcome"] == "answered"
    assert row["wait_seconds"] > 60


def test_numbers_withheld_and_keyed() -> None:
    """Withheld From values are refused; keyed French numbers are validated into E.164."""
    assert callable_from("+33611223344") == "+33611223344"
    assert [callable_from(v) for v in ("anonymous", "+7378742833", "", "12", "+0123")] == \
        [None] * 5
    assert french_number("0612345678") == "+33612345678"
    assert french_number("0612345678#") == "+33612345678"
    assert [french_number(v) for v in ("0012345678", "061234567", "1612345678", "06123456789")] \
        == [None] * 4


async def test_keyed_number_is_called_back(settings: Settings, flow: Flow, db_url: str) -> None:
    """The caller keys another French number: that phone rings back, not the caller's own."""
    async with _running(settings, flow, db_url, paris(OPEN)) as h:
        await _agent(h, "+33477000001", 100)
        (result,) = await _calls(h, (0, CallerScript(IMMIGRATION, callback=True,
                                                     callback_number="0478123456")))
        h.clock.advance(20)
        await acd.offer_waiting(h.app[keys.DISPATCHER].deps)
        await h.twilio.settle()
        row = await _row(h, result.call_sid)
    assert "+33611223344" not in h.twilio.phones
    assert len(h.twilio.phones["+33478123456"].answered_at) == 1
    assert row["outcome"] == "answered_callback"


async def test_callback_survives_a_restart(settings: Settings, flow: Flow, db_url: str) -> None:
    """Booked on one app, placed by a new app on the same database after a restart."""
    async with _running(settings, flow, db_url, paris(OPEN)) as h:
        await _agent(h, "+33477000001", 3600)
        (result,) = await _calls(h, (0, CallerScript(IMMIGRATION, callback=True)))
        assert (await _row(h, result.call_sid))["cb_state"] == "waiting"
    later = paris(OPEN) + timedelta(minutes=10)
    async with running(_settings(settings, callback_poll_seconds=0.05), flow, db_url,
                       later) as h2:
        h2.twilio.phones["+33611223344"] = Phone()
        h2.twilio.agent_scripts["+33477000001"] = AgentScript(answer_after=3, talk_seconds=20)
        await _pool(h2).execute("UPDATE agents SET status = 'available', wrap_up_until = NULL")
        await _until(lambda: len(h2.twilio.agent_calls) >= 1)
        await h2.twilio.settle()
        row = await _row(h2, result.call_sid)
    assert (row["outcome"], row["cb_state"], row["number_enc"]) == (
        "answered_callback", "done", None)
    assert row["wait_seconds"] == pytest.approx(
        (row["answered_at"] - row["queued_at"]).total_seconds())
    assert row["wait_seconds"] > 500


async def test_two_instances_place_each_callback_once(settings: Settings, flow: Flow,
                                                      db_url: str) -> None:
    """Two apps on one database racing for the same pending callbacks place each one once."""
    async with _running(settings, flow, db_url, paris(OPEN), instances=2) as h:
        for n in range(4):
            await _agent(h, f"+3347700001{n}", 3600)
        callers = [(5.0 * n, CallerScript(IMMIGRATION, callback=True,
                                          from_number=f"+3361000000{n}")) for n in range(3)]
        results = await _calls(h, *callers)
        await _pool(h).execute("UPDATE agents SET status = 'available', wrap_up_until = NULL")
        for _ in range(3):
            await asyncio.gather(*(tick(app) for app in h.apps),
                                 *(acd.offer_waiting(app[keys.DISPATCHER].deps) for app in h.apps))
        await h.twilio.settle()
        offers = await _pool(h).fetch(
            "SELECT for_call_sid, count(*) AS n FROM offers GROUP BY 1")
        rows = [await _row(h, r.call_sid) for r in results]
    assert sorted(r["n"] for r in offers) == [1, 1, 1]
    assert len(h.twilio.agent_calls) == 3
    assert all(len(h.twilio.phones[f"+3361000000{n}"].answered_at) == 1 for n in range(3))
    assert {r["outcome"] for r in rows} == {"answered_callback"}
    # Served in the order they queued, whichever instance placed them.
    assert [r["answered_at"] for r in rows] == sorted(r["answered_at"] for r in rows)


async def test_english_caller_hears_callback_in_english(settings: Settings, flow: Flow,
                                                        db_url: str) -> None:
    """An English caller hears the callback offer, confirmation and call back in English only."""
    async with _running(settings, flow, db_url, paris(OPEN)) as h:
        await _agent(h, "+33477000001", 110)
        (result,) = await _calls(h, (0, CallerScript(ENGLISH_IMMIGRATION, callback=True)))
        h.clock.advance(60)
        await acd.offer_waiting(h.app[keys.DISPATCHER].deps)
        await h.twilio.settle()
        phone = h.twilio.phones["+33611223344"]
        row = await _row(h, result.call_sid)
    offered = result.heard.index("To be called back, press 1: you keep your place in the queue.")
    after = list(zip(result.heard, result.languages, strict=True))[offered:]
    assert {language for _, language in after} == {"en-GB"}
    assert any(text.startswith("We will call you back on the number ending in 33 44")
               for text, _ in after)
    assert phone.heard == ["The préfecture de la Loire is calling you back. An adviser is on "
                           "the line."]
    assert phone.languages == ["en-GB"]
    assert row["outcome"] == "answered_callback"
    assert row["language"] == "en"


async def test_busy_hour_with_callbacks_on_two_instances(settings: Settings, flow: Flow,
                                                         db_url: str) -> None:
    """Twelve callers, every third asks for a callback: all served in arrival order, once each."""
    patient = replace(flow, services={
        **flow.services, "immigration": replace(flow.services["immigration"], queue=replace(
            flow.services["immigration"].queue, max_wait_seconds=1200))})
    async with running(_settings(settings, callback_poll_seconds=0.05), patient, db_url,
                       paris(OPEN), instances=2) as h:
        for n in range(2):
            await _agent(h, f"+3347700002{n}", 0, AgentScript(answer_after=3, talk_seconds=45))
        scripts = [(12.0 * n, CallerScript(IMMIGRATION, from_number=f"+336200000{n:02d}",
                                           talk_seconds=45, callback=n % 3 == 1))
                   for n in range(12)]
        results = await _calls(h, *scripts)
        await _place_pending(h)  # callbacks booked last are placed by the ticker
        rows = [await _row(h, r.call_sid) for r in results]
        offers = await _pool(h).fetch(
            "SELECT for_call_sid, count(*) AS n FROM offers WHERE state = 'completed' GROUP BY 1")
        numbers = await _pool(h).fetchval(
            "SELECT count(*) FROM callbacks WHERE number_enc IS NOT NULL")
    called_back = [r for r in rows if r["outcome"] == "answered_callback"]
    assert len(called_back) >= 2
    assert {r["outcome"] for r in rows} == {"answered", "answered_callback"}
    by_arrival = sorted(rows, key=lambda r: r["queued_at"])
    assert [r["call_sid"] for r in by_arrival] == \
        [r["call_sid"] for r in sorted(rows, key=lambda r: r["answered_at"])]
    assert sorted(r["n"] for r in offers) == [1] * 12
    assert numbers == 0
    for n in range(1, 12, 3):
        phone = h.twilio.phones.get(f"+336200000{n:02d}")
        assert phone is None or len(phone.answered_at) <= 1


async def test_no_offer_when_the_switchboard_closes_too_soon(settings: Settings, flow: Flow,
                                                            db_url: str) -> None:
    """At 18:56 the callback could not be placed before 19:00: the wait offers none."""
    async with _running(settings, flow, db_url, paris("2026-11-25T18:55")) as h:
        await _agent(h, "+33477000001", 150)
        (result,) = await _calls(h, (0, CallerScript(IMMIGRATION, callback=True)))
        row = await _row(h, result.call_sid)
    assert "rappelé" not in result.heard_text
    assert row["outcome"] == "answered"
    assert row["wait_seconds"] > 60


def test_honoured_in_time_uses_hours_and_expected_wait(flow: Flow) -> None:
    """Open long enough for the expected turn, a retry and the placing: offered; else not."""
    from ivr.callbacks.offer import honoured_in_time

    assert honoured_in_time(flow, paris("2026-11-25T18:00"), 600, 120)
    assert not honoured_in_time(flow, paris("2026-11-25T18:50"), 600, 120)
    assert not honoured_in_time(flow, paris("2026-11-25T20:00"), 0, 0)


async def test_hanging_up_on_a_wrong_number_is_an_abandon(settings: Settings, flow: Flow,
                                                          db_url: str) -> None:
    """A wrong number keyed, then silence and a hang-up: abandoned, no callback, no number."""
    async with _running(settings, flow, db_url, paris(OPEN)) as h:
        await _agent(h, "+33477000001", 150)
        (result,) = await _calls(h, (0, CallerScript(IMMIGRATION, callback=True,
                                                     callback_number="12345")))
        row = await _row(h, result.call_sid)
    assert "Ce numéro n'est pas valide." in result.heard
    assert (row["outcome"], row["cb_state"], row["number_enc"]) == ("abandoned", "canceled", None)


def test_callback_key_setting() -> None:
    """IVR_CALLBACK_KEY is checked; --dev derives one; without it no callback is offered."""
    from ivr.settings import SettingsError, load_settings

    env = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "IVR_PUBLIC_URL": "https://ivr.example",
           "IVR_HASH_KEY": "h" * 32, "TWILIO_AUTH_TOKEN": "t", "IVR_ADMIN_TOKEN": "a",
           "IVR_AGENT_CALLER_ID": "+33477481234"}
    assert load_settings(env).callback_key is None
    assert load_settings({**env, "IVR_CALLBACK_KEY": KEY}).callback_key == KEY
    with pytest.raises(SettingsError, match="IVR_CALLBACK_KEY"):
        load_settings({**env, "IVR_CALLBACK_KEY": "not-a-key"})


async def _place_pending(h: Harness) -> None:
    """Let the ticker place every pending callback, in virtual time (bounded)."""
    for _ in range(200):
        left = await _pool(h).fetchval(
            "SELECT count(*) FROM callbacks WHERE state IN ('choosing', 'waiting')")
        if left == 0:
            return
        h.clock.advance(5)
        await asyncio.sleep(0.1)
        # The ticker runs on the wall clock; under load it may not have looked yet: look now.
        for app in h.apps:
            await tick(app)
        await h.twilio.settle()
    raise AssertionError("callbacks still pending")


async def test_busy_hour_across_a_restart(settings: Settings, flow: Flow, db_url: str) -> None:
    """Callbacks pending when two instances stop are placed once, in order, after the restart."""
    patient = replace(flow, services={
        **flow.services, "immigration": replace(flow.services["immigration"], queue=replace(
            flow.services["immigration"].queue, max_wait_seconds=1200))})
    scripts = [(15.0 * n, CallerScript(IMMIGRATION, from_number=f"+336300000{n:02d}",
                                       talk_seconds=60, callback=n % 3 == 2))
               for n in range(9)]
    async with running(_settings(settings), patient, db_url, paris(OPEN), instances=2) as h:
        await _agent(h, "+33477000030", 0, AgentScript(answer_after=3, talk_seconds=60))
        results = await _calls(h, *scripts)
        pending = await _pool(h).fetchval("SELECT count(*) FROM callbacks WHERE state = 'waiting'")
        phones = dict(h.twilio.phones)
        stopped = h.clock.now()
    async with running(_settings(settings, callback_poll_seconds=0.05), patient, db_url,
                       stopped + timedelta(minutes=2), instances=2) as h2:
        h2.twilio.agent_scripts["+33477000030"] = AgentScript(answer_after=3, talk_seconds=60)
        h2.twilio.phones.update({n: Phone() for n in phones})
        await _place_pending(h2)
        rows = [await _row(h2, r.call_sid) for r in results]
        offers = await _pool(h2).fetch(
            "SELECT for_call_sid, count(*) AS n FROM offers WHERE state = 'completed' GROUP BY 1")
        numbers = await _pool(h2).fetchval(
            "SELECT count(*) FROM callbacks WHERE number_enc IS NOT NULL")
        after_restart = sum(len(p.answered_at) for p in h2.twilio.phones.values())
    assert pending >= 1
    assert after_restart == pending
    assert {r["outcome"] for r in rows} == {"answered", "answered_callback"}
    assert [r["call_sid"] for r in sorted(rows, key=lambda r: r["queued_at"])] == \
        [r["call_sid"] for r in sorted(rows, key=lambda r: r["answered_at"])]
    assert sorted(r["n"] for r in offers) == [1] * 9
    assert numbers == 0
