"""A simulated week through the simulator: the report and the staffing table equal a count
made from the callers' and agents' scripts alone."""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from ivr import keys
from ivr.cli import main
from ivr.db.pool import create_pool
from ivr.flow.model import Flow
from ivr.report.period import Period, open_days
from ivr.report.queries import build
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.script import AgentScript, CallerScript, CallResult, Press
from ivr.staffing.measured import measure
from ivr.staffing.plan import plan
from ivr.store import agents, crisis
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, ROOT, TEMPLATE, paris, with_database
from tests.helpers import lived_outcome

KEYS = {"1": "crisis", "2": "immigration", "3": "road_safety", "4": "user_relations"}
MONDAY = date(2026, 5, 11)  # Thursday 14 May 2026 is Ascension Day, a public holiday.
OPEN_DAYS = [MONDAY + timedelta(days=n) for n in (0, 1, 2, 4)]
HOLIDAY = MONDAY + timedelta(days=3)
CRISIS_WORDS = "crues de la Loire"
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Planned:
    """One scripted call: when (Paris time), why it is closed if it is, and the key pressed."""

    local: datetime
    closed: str | None
    key: str | None
    script: CallerScript


@dataclass(frozen=True)
class Week:
    """The simulated week's database and what each caller lived."""

    db_url: str
    calls: list[tuple[Planned, CallResult]]
    target_ring: int


def _at(day: date, hours: float) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hours)


def _plan(dice: random.Random) -> list[Planned]:
    """About a hundred calls: open hours, lunch with nobody signed in, evenings, holiday,
    weekend."""
    planned: list[Planned] = []

    def caller(local: datetime, closed: str | None, listens: bool = False) -> None:
        key = None if closed else dice.choice(list(KEYS))
        # Callers who know their service press it 2 s into the menu (barge-in) and queue
        # within seconds: patience is spent waiting, so short ones give abandons.
        patience = dice.choice([None, None, None, 25.0, 40.0, 90.0])
        if closed:
            patience = None  # the closed message is heard to its end
        inputs = () if key is None else (Press(key) if listens else Press(key, at=2.0),)
        script = CallerScript(inputs=inputs, hangup_after=patience,
                              talk_seconds=dice.uniform(30, 150),
                              from_number=f"+3361100{len(planned):04d}")
        planned.append(Planned(local, closed, key, script))

    for n in range(7):
        day = MONDAY + timedelta(days=n)
        if day in OPEN_DAYS:
            for _ in range(9):
                caller(_at(day, dice.uniform(8.0, 11.8)), None)
                caller(_at(day, dice.uniform(13.2, 18.8)), None)
            for _ in range(2):
                caller(_at(day, dice.uniform(12.25, 12.65)), None)  # nobody at lunch
                caller(_at(day, dice.uniform(7.5, 7.95)), "hours")
            caller(_at(day, dice.uniform(19.2, 19.8)), "hours")
        elif day == HOLIDAY:
            for _ in range(3):
                caller(_at(day, dice.uniform(9, 17)), "holiday")
        else:
            for _ in range(2):
                caller(_at(day, dice.uniform(9, 17)), "hours")
    # Tuesday morning: two more callers while the crisis announcement is on.
    for minutes in (10, 40):
        caller(_at(OPEN_DAYS[1], 10 + minutes / 60), None, listens=True)
    return planned



def _stamp(line: str) -> float:
    """Seconds since the call began, from a transcript line "[   12.5s] ..."."""
    return float(line[1:line.index("s]")])


def _talk_seconds(result: CallResult) -> float:
    """From the caller's transcript: the agent's pickup to the end of the call."""
    lines = result.transcript.lines
    picked = next(_stamp(x) for x in lines if "décroché par" in x)
    return next(_stamp(x) for x in lines if "fin de l'appel" in x) - picked


async def _simulate(h: Harness, planned: list[Planned]) -> list[CallResult]:
    pool = h.app[keys.POOL]
    start = h.clock.now()
    ids = []
    for i, answer_after in enumerate((3.0, 9.0, 24.0)):  # the third phone rings long
        contact = f"+3347700020{i}"
        agent = await agents.add(pool, f"Standardiste {i}", contact,
                                 [*KEYS.values(), "reception"], start)
        ids.append(agent.id)
        h.twilio.agent_scripts[contact] = AgentScript(answer_after=answer_after,
                                                      talk_seconds=120)
    shifts = sorted((paris(_at(day, hour).isoformat()), status) for day in OPEN_DAYS
                    for hour, status in ((8, "available"), (12, "offline"),
                                         (13, "available"), (19, "offline")))

    async def rota() -> None:
        """Everyone signs in at 08:00 and 13:00 and out at 12:00 and 19:00 on open days."""
        for moment, status in shifts:
            await h.clock.sleep((moment - h.clock.now()).total_seconds())
            for agent_id in ids:
                await agents.set_status(pool, agent_id, status, h.clock.now())

    async def alert() -> None:
        """The crisis announcement is on from 10:00 to 11:00 on Tuesday."""
        on = paris(_at(OPEN_DAYS[1], 10).isoformat())
        await h.clock.sleep((on - h.clock.now()).total_seconds())
        await crisis.switch(pool, active=True, message=f"Vigilance orange : {CRISIS_WORDS}.",
                            until=None, now=h.clock.now(), by="test")
        # As the admin API does: virtual time may reach the next caller before the NOTIFY.
        h.app[keys.CRISIS].invalidate()
        await h.clock.sleep(3600)
        await crisis.switch(pool, active=False, message=None, until=None, now=h.clock.now(),
                            by="test")
        h.app[keys.CRISIS].invalidate()

    offsets = [(paris(p.local.isoformat()) - start).total_seconds() for p in planned]
    results, _, _ = await asyncio.wait_for(asyncio.gather(
        asyncio.gather(*(h.twilio.call(p.script, after=at)
                         for p, at in zip(planned, offsets, strict=True))),
        h.clock.spawn(rota()), h.clock.spawn(alert())), timeout=600)
    await h.twilio.settle()
    return list(results)


@pytest.fixture(scope="module")
async def week(server_url: str, template_url: str, flow: Flow,
               tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Week]:
    """One simulated week (Monday 11 to Sunday 17 May 2026) in a database of its own."""
    name = f"ivr_week_{os.getpid()}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name}")
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    finally:
        await conn.close()
    url = with_database(server_url, name)
    settings = Settings(
        database_url=None, data_dir=tmp_path_factory.mktemp("week"), host="127.0.0.1",
        port=8080, public_url="http://127.0.0.1:8080", twilio_auth_token=AUTH_TOKEN,
        twilio_account_sid=ACCOUNT_SID, twilio_api_base_url="http://127.0.0.1:9",
        agent_caller_id="+33477000000", reception_number=None,
        flow_path=ROOT / "flows" / "loire.yaml", admin_token="admin-token-for-tests",
        hash_key=b"k" * 32, wrap_up_seconds=10, offer_timeout_seconds=30)
    planned = _plan(random.Random(14))
    async with running(settings, flow, url, paris(_at(MONDAY, 7.4).isoformat())) as h:
        results = await _simulate(h, planned)
    assert all(r.error is None for r in results), [r.error for r in results if r.error]
    yield Week(url, list(zip(planned, results, strict=True)), settings.target_ring)
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


def _expected_services(week: Week) -> dict[str, dict[str, object]]:
    """Per service, the report's counts and rates from the scripts and what callers lived."""
    kinds: dict[str, Counter[str]] = {s: Counter() for s in KEYS.values()}
    waits: dict[str, list[float]] = {s: [] for s in KEYS.values()}
    for p, result in week.calls:
        if p.key is None:
            continue
        service = KEYS[p.key]
        kind = lived_outcome(result, week.target_ring)
        kinds[service][kind] += 1
        if result.queue_wait is not None and kind in ("met", "missed"):
            waits[service].append(result.queue_wait)
    expected: dict[str, dict[str, object]] = {}
    for service, k in kinds.items():
        queued = k["met"] + k["missed"] + k["abandoned"] + k["unanswered"]
        w = waits[service]
        expected[service] = {
            "calls": sum(k.values()), "queued": queued, "answered": k["met"] + k["missed"],
            "answered_before_target": k["met"], "abandoned": k["abandoned"],
            "unanswered": k["unanswered"],
            "taux_de_decroche": (k["met"] + k["missed"]) / queued if queued else None,
            "share_before_target": k["met"] / queued if queued else None,
            "wait_seconds_avg": statistics.fmean(w) if w else None,
            # percentile_cont interpolates linearly, like the "inclusive" method.
            "wait_seconds_p90": (statistics.quantiles(w, n=10, method="inclusive")[8]
                                 if len(w) > 1 else (w[0] if w else None))}
    return expected


async def test_week_report_equals_the_scripts_count(week: Week, flow: Flow) -> None:
    """Calls, open days, closed reasons, per-service counts, rates, waits, hours, weekdays,
    days and crisis days of `ivr report --format json` equal the count from the scripts."""
    pool = await create_pool(week.db_url, max_size=2)
    try:
        period = Period(MONDAY, MONDAY + timedelta(days=6), flow.timezone)
        report = (await build(pool, flow, period, target_ring=week.target_ring)).as_json()
    finally:
        await pool.close()
    planned = [p for p, _ in week.calls]
    assert report["from"] == "2026-05-11"
    assert report["to"] == "2026-05-17"
    assert report["calls"] == len(planned)
    assert report["open_days"] == 4
    assert report["calls_per_open_day"] == pytest.approx(len(planned) / 4)
    assert report["closed"] == dict(Counter(p.closed for p in planned if p.closed))
    assert report["left_in_menu"] == 0
    expected = _expected_services(week)
    kinds = Counter(lived_outcome(r, week.target_ring) for p, r in week.calls if p.key)
    # The week exercised every ending the committee is shown.
    assert {"met", "missed", "abandoned", "unanswered"} <= set(kinds), kinds
    for service, figures in expected.items():
        got = report["services"][service]
        for name, value in figures.items():
            if isinstance(value, float):
                assert got[name] == pytest.approx(value, abs=0.02), (service, name)
            else:
                assert got[name] == value, (service, name)
    assert report["services"]["reception"]["calls"] == 0
    assert report["all_services"]["calls"] == sum(1 for p in planned if p.key)
    assert report["by_hour"] == dict(sorted(Counter(f"{p.local.hour:02d}"
                                                    for p in planned).items()))
    weekdays = Counter(WEEKDAY_NAMES[p.local.weekday()] for p in planned)
    assert report["by_weekday"] == {d: weekdays.get(d, 0) for d in WEEKDAY_NAMES}
    assert report["by_day"] == {(MONDAY + timedelta(days=n)).isoformat(): sum(
        1 for p in planned if p.local.date() == MONDAY + timedelta(days=n)) for n in range(7)}
    # Callers who listen hear the announcement; those who press at once may cut it, so the
    # report counts the calls that arrived while it was on (10:00 to 11:00 on Tuesday).
    heard = sum(1 for _, r in week.calls if CRISIS_WORDS in r.heard_text)
    assert heard >= 2
    during = sum(1 for p in planned
                 if _at(OPEN_DAYS[1], 10) <= p.local < _at(OPEN_DAYS[1], 11))
    assert during >= heard
    assert report["crisis_days"] == {OPEN_DAYS[1].isoformat(): during}


async def test_week_staffing_measures_demand_and_agents(week: Week, flow: Flow) -> None:
    """The measured staffing table: queued calls per weekday and hour as scripted, the three
    standardists signed in 08-12 and 13-19 (none at lunch), a need computed per hour."""
    pool = await create_pool(week.db_url, max_size=2)
    try:
        period = Period(MONDAY, MONDAY + timedelta(days=6), flow.timezone)
        days = open_days(flow, period)
        measured = await measure(pool, period, days)
    finally:
        await pool.close()
    table = plan(flow, period, days, measured, wrap_up_seconds=10, answer_within=20,
                 share=0.85)
    queued = Counter((WEEKDAY_NAMES[p.local.weekday()], p.local.hour) for p, r in week.calls
                     if lived_outcome(r, week.target_ring) in ("met", "missed", "abandoned",
                                                       "unanswered"))
    slots = {(s.weekday, s.hour): s for s in table.slots}
    assert set(slots) == {(d, h) for d in ("monday", "tuesday", "wednesday", "friday")
                          for h in range(8, 19)}
    for (weekday, hour), slot in slots.items():
        assert slot.queued == queued.get((weekday, hour), 0), (weekday, hour)
        assert slot.open_days == 1
        assert slot.signed_in == pytest.approx(0.0 if hour == 12 else 3.0), (weekday, hour)
        assert slot.needed >= (1 if slot.queued else 0)
    assert table.talk_seconds is not None
    assert table.handle_seconds is not None
    assert table.handle_seconds == pytest.approx(table.talk_seconds + 10)
    talks = [_talk_seconds(r) for _, r in week.calls if r.answered_by is not None]
    assert table.talk_seconds == pytest.approx(statistics.fmean(talks), abs=0.2)
    assert table.model == "erlang-a"
    assert table.patience_seconds is not None


def test_cli_report_and_staffing_on_the_week(week: Week, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    """`ivr report` (json, csv, table, html --out) and `ivr staffing --from/--to` run on the
    week's database through the command line."""
    monkeypatch.setenv("DATABASE_URL", week.db_url)
    monkeypatch.setenv("IVR_WRAP_UP_SECONDS", "10")
    args = ["--from", "2026-05-11", "--to", "2026-05-17"]
    assert main(["report", *args, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["calls"] == len(week.calls)
    assert main(["report", *args, "--format", "csv", "--service", "immigration"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("from,to,service,calls,queued,answered")
    assert lines[1].split(",")[2:4] == ["immigration",
                                        str(report["services"]["immigration"]["calls"])]
    assert main(["report", *args]) == 0
    assert "Appels reçus : " + str(len(week.calls)) in capsys.readouterr().out
    page = tmp_path / "rapport.html"
    assert main(["report", *args, "--format", "html", "--out", str(page)]) == 0
    written = page.read_text(encoding="utf-8")
    assert written.startswith("<!DOCTYPE html>")
    assert "Standardistes nécessaires et connectés" in written
    assert main(["staffing", *args, "--format", "json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert len(table["slots"]) == 44
    assert table["wrap_up_seconds"] == 10
    assert main(["staffing", *args]) == 0
    assert "nécessaires" in capsys.readouterr().out
