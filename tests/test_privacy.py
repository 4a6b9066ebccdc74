"""A day of calls leaves no caller's number, in any spelling, in the database or the logs."""

from __future__ import annotations

import logging
import re

import asyncpg
import pytest

from ivr import keys
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.harness import running
from ivr.simulator.script import AgentScript, CallerScript, Press, Silence
from ivr.store import agents
from tests.conftest import OPEN, paris

# Loire landlines (04 77) and mobiles: the numbers the day's callers call from.
CALLERS = ["+33477921035", "+33477330418", "+33477562290", "+33611458372", "+33477014466",
           "+33760215587"]
CLAIRE, PAUL = "+33477000001", "+33477000002"


async def dump_database(pool: asyncpg.Pool) -> list[str]:
    """Every row of every table of the public schema, cast to text, table by table."""
    tables = await pool.fetch("""SELECT table_name FROM information_schema.tables
                                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
                                 ORDER BY table_name""")
    lines: list[str] = []
    for row in tables:
        name = row["table_name"]
        rows = await pool.fetch(f'SELECT t::text AS line FROM public."{name}" t')
        lines.extend(sorted(f"{name}: {r['line']}" for r in rows))
    return lines


def spellings(e164: str) -> re.Pattern[str]:
    """The number as E.164, with or without +33/0033/33, 0-prefixed, grouped by spaces, dots
    or dashes, with or without the leading zero."""
    national = e164.removeprefix("+33")  # 9 digits: 4 77 92 10 35
    groups = [national[0], *(national[i:i + 2] for i in range(1, 9, 2))]
    sep = r"[ .\-]?"
    body = sep.join(re.escape(g) for g in groups)
    return re.compile(rf"(?:\+33|0033|33|0)?{sep}\(?0?\)?{sep}{body}(?!\d)")


def test_spellings_pattern_finds_every_form() -> None:
    """The search pattern matches each common way of writing a French number."""
    pattern = spellings("+33477921035")
    for form in ("+33477921035", "33477921035", "0477921035", "04 77 92 10 35", "04.77.92.10.35",
                 "04-77-92-10-35", "+33 4 77 92 10 35", "+33 (0)4 77 92 10 35", "477921035",
                 "0033477921035"):
        assert pattern.search(f"x {form} y"), form
    assert not pattern.search("0477921036")


async def test_a_day_of_calls_keeps_no_caller_number(settings: Settings, flow: Flow,
                                                     db_url: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """Callers answered, transferred, hanging up in the queue or in the menu: afterwards no
    table and no log line holds their number in any spelling (only the keyed hash)."""
    caplog.set_level(logging.DEBUG)
    patient = settings.with_overrides(offer_timeout_seconds=30)
    async with running(patient, flow, db_url, paris(OPEN)) as h:
        pool = h.app[keys.POOL]
        for contact, services in ((CLAIRE, ["immigration", "road_safety"]),
                                  (PAUL, ["road_safety", "immigration"])):
            agent = await agents.add(pool, f"Agent {contact[-2:]}", contact, services,
                                     h.clock.now())
            await agents.set_status(pool, agent.id, "available", h.clock.now())
        h.twilio.agent_scripts[CLAIRE] = AgentScript(answer_after=5, talk_seconds=40,
                                                     transfer_to="road_safety",
                                                     transfer_after=10)
        h.twilio.agent_scripts[PAUL] = AgentScript(answer_after=8, talk_seconds=30)
        scripts = [
            CallerScript(inputs=(Press("2"), Press("1"), Press("5")), talk_seconds=40,
                         from_number=CALLERS[0]),
            CallerScript(inputs=(Press("3"), Press("4"), Press("1")), talk_seconds=90,
                         from_number=CALLERS[1]),
            CallerScript(inputs=(Silence(),), hangup_after=15, from_number=CALLERS[2]),
            CallerScript(inputs=(Press("2"),), hangup_after=4, from_number=CALLERS[3]),
            CallerScript(inputs=(Press("9"), Press("2")), talk_seconds=20,
                         from_number=CALLERS[4]),
            CallerScript(inputs=(Press("3"),), talk_seconds=20, from_number=CALLERS[5]),
        ]
        for script in scripts:
            result = await h.twilio.call(script)
            await h.twilio.settle()
            assert result.error is None, result.transcript
            h.clock.advance(600)
        assert await pool.fetchval("SELECT count(*) FROM calls") == len(CALLERS)
        assert await pool.fetchval("SELECT count(*) FROM transfers") >= 1
        assert await pool.fetchval("SELECT count(*) FROM survey_answers") >= 1
        dump = await dump_database(pool)
    logs = [f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}"
            for r in caplog.records]
    assert len(dump) > 20
    assert logs
    # The search works: a standardist's number, kept in clear on purpose, is found.
    assert [line for line in dump if spellings(CLAIRE).search(line)]
    for number in CALLERS:
        pattern = spellings(number)
        assert not [line for line in dump if pattern.search(line)], number
        assert not [line for line in logs if pattern.search(line)], number
