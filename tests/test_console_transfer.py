"""The standardist's transfer buttons, clicked in headless Chromium during a simulated call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from ivr import keys
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.script import AgentScript, CallerScript, Press
from ivr.store import agents
from tests.browser import screenshot_path
from tests.conftest import OPEN, paris
from tests.console_helpers import make_agent, serious_violations
from tests.pacer import Pacer

CLAIRE, PAUL = "+33477000001", "+33477000002"


@pytest.fixture
async def harness(settings: Settings, flow: Flow, db_url: str) -> AsyncIterator[Harness]:
    """The server on a Wednesday morning, reachable by Chromium on a loopback port."""
    async with running(settings, flow, db_url, paris(OPEN)) as h:
        yield h


async def test_a_standardist_transfers_the_caller_from_the_console(
        browser: Browser, harness: Harness) -> None:
    """Claire clicks the road-safety button in a call: Paul answers; the first pickup stays."""
    pool, now = harness.app[keys.POOL], harness.clock.now()
    await make_agent(pool, "Claire", CLAIRE, ["immigration"], now)
    paul = await make_agent(pool, "Paul", PAUL, ["road_safety"], now)
    await agents.set_status(pool, paul, "available", now)
    harness.twilio.agent_scripts[CLAIRE] = AgentScript(answer_after=4, talk_seconds=300)
    harness.twilio.agent_scripts[PAUL] = AgentScript(answer_after=3, talk_seconds=20)

    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    await page.goto(harness.settings.public_url + "/console/login")
    await page.get_by_label("Identifiant").fill("Claire")
    await page.get_by_label("Mot de passe").fill("mot-de-passe-1")
    await page.get_by_role("button", name="Se connecter").click()
    refused = page.get_by_role("button", name="Transférer vers le pôle sécurité routière")
    await refused.click()
    await expect(page.get_by_role("alert")).to_have_text("Aucun appel en cours à transférer.")
    await page.get_by_role("button", name="Me rendre disponible").click()

    pacer = Pacer(harness.clock)
    caller = asyncio.create_task(harness.twilio.call(CallerScript(inputs=(Press("2"),),
                                                                  talk_seconds=300)))

    async def talking() -> bool:
        return bool(await pool.fetchval(
            "SELECT count(*) FROM offers WHERE state = 'answered' "
            "AND picked_call_sid IS NOT NULL"))

    try:
        await pacer.hold_when(talking)
        await expect(page.locator("#me")).to_contain_text("Appel en cours")
        assert await serious_violations(page) == []
        await page.screenshot(path=str(screenshot_path("console-agent-transfer")),
                              full_page=True)
        await page.get_by_role("button", name="Transférer vers le pôle sécurité routière").click()
        await expect(page.get_by_role("status")).to_have_text("Appel transféré.")
        await page.screenshot(path=str(screenshot_path("console-agent-transferred")),
                              full_page=True)
    finally:
        await pacer.stop()
        result = await caller
        await harness.twilio.settle()
    moved = await pool.fetchrow("SELECT * FROM transfers WHERE call_sid = $1", result.call_sid)
    assert moved is not None
    assert (moved["from_service"], moved["to_service"], moved["outcome"]) == \
        ("immigration", "road_safety", "answered")
    assert moved["by_whom"] == "Claire (#1)"
    call = await pool.fetchrow("SELECT rings, outcome FROM calls WHERE call_sid = $1",
                               result.call_sid)
    assert call is not None
    # The first pickup's ring (phone ringing, then Claire's key) is kept through the transfer.
    assert (call["outcome"], call["rings"]) == ("answered", result.rings)
    assert result.rings == 2
    await context.close()
