"""Standardists see an English caller's language in the console (issue 16), in Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from ivr import keys
from ivr.flow.model import Flow
from ivr.settings import Settings
from ivr.simulator.harness import Harness, running
from ivr.simulator.script import AgentScript, CallerScript, Press
from tests.browser import screenshot_path
from tests.conftest import OPEN, paris
from tests.console_helpers import make_agent, serious_violations
from tests.pacer import Pacer

CLAIRE = "+33477000001"


@pytest.fixture
async def harness(settings: Settings, flow: Flow, db_url: str) -> AsyncIterator[Harness]:
    """The server on a Wednesday morning, reachable by Chromium on a loopback port."""
    async with running(settings, flow, db_url, paris(OPEN)) as h:
        yield h


async def _signed_in(browser: Browser, h: Harness, login: str) -> Page:
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    await page.goto(h.settings.public_url + "/console/login")
    await page.get_by_label("Identifiant").fill(login)
    await page.get_by_label("Mot de passe").fill("mot-de-passe-1")
    await page.get_by_role("button", name="Se connecter").click()
    return page


async def test_the_offer_shows_an_english_callers_language(browser: Browser,
                                                           harness: Harness) -> None:
    """An English caller's offer rings: the agent's page and the supervision say « anglais »."""
    pool, now = harness.app[keys.POOL], harness.clock.now()
    claire = await make_agent(pool, "Claire", CLAIRE, ["immigration"], now)
    await make_agent(pool, "Marie", "+33477000002", ["reception"], now, role="manager")
    harness.twilio.agent_scripts[CLAIRE] = AgentScript(answer_after=8, talk_seconds=20)
    agent = await _signed_in(browser, harness, "Claire")
    await agent.get_by_role("button", name="Me rendre disponible").click()
    await expect(agent.locator("#me .status")).to_have_text("Disponible")
    manager = await _signed_in(browser, harness, "Marie")
    await expect(manager.get_by_role("heading", level=1)).to_have_text("Supervision du standard")

    pacer = Pacer(harness.clock)
    caller = asyncio.create_task(harness.twilio.call(CallerScript(
        inputs=(Press("9", at=3.0), Press("2")), talk_seconds=20)))

    async def ringing() -> bool:
        return bool(await pool.fetchval(
            "SELECT count(*) FROM offers WHERE agent_id = $1 AND state = 'ringing'", claire))

    try:
        await pacer.hold_when(ringing)
        me = agent.locator("#me")
        await expect(me).to_contain_text("Appel proposé")
        await expect(me.locator(".language")).to_have_text("anglais")
        await expect(agent.locator("#announce")).to_contain_text("Appelant en anglais.")
        await expect(manager.locator("#agents")).to_contain_text("(anglais)")
        assert await serious_violations(agent) == []
        await agent.screenshot(path=str(screenshot_path("console-offer-english")),
                               full_page=True)
        await manager.screenshot(path=str(screenshot_path("console-manager-english")),
                                 full_page=True)
    finally:
        await pacer.stop()
        result = await caller
        await harness.twilio.settle()
    assert result.answered_by == CLAIRE
    await agent.context.close()
    await manager.context.close()
