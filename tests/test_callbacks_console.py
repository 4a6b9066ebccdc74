"""The console's live queues show pending callbacks (issue 16), in headless Chromium."""

from __future__ import annotations

from datetime import timedelta

from cryptography.fernet import Fernet
from playwright.async_api import Browser, expect

from ivr import keys
from ivr.flow.model import Flow
from ivr.live import refresh_live_gauges
from ivr.settings import Settings
from ivr.simulator.harness import running
from ivr.simulator.script import CallerScript, Press
from tests.browser import screenshot_path
from tests.conftest import OPEN, paris
from tests.console_helpers import make_agent, serious_violations


async def test_supervision_shows_pending_callbacks(browser: Browser, settings: Settings,
                                                   flow: Flow, db_url: str) -> None:
    """A caller booked a callback: the manager's queues table counts it, with its wait."""
    keyed = settings.with_overrides(callback_key=Fernet.generate_key().decode(),
                                    callback_poll_seconds=3600.0)
    async with running(keyed, flow, db_url, paris(OPEN)) as h:
        pool, now = h.app[keys.POOL], h.clock.now()
        claire = await make_agent(pool, "Claire", "+33477000001", ["immigration"], now)
        await pool.execute("UPDATE agents SET status = 'wrap_up', wrap_up_until = $2 "
                           "WHERE id = $1", claire, now + timedelta(hours=1))
        await make_agent(pool, "Marie", "+33477000002", ["reception"], now, role="manager")
        result = await h.twilio.call(CallerScript(inputs=(Press("2"),), callback=True))
        assert result.queue_result == "leave", result.transcript
        await refresh_live_gauges(h.app)
        registry = h.app[keys.METRICS].registry
        assert registry.get_sample_value("ivr_callbacks_pending",
                                         {"service": "immigration"}) == 1
        assert registry.get_sample_value("ivr_callbacks_pending", {"service": "reception"}) == 0
        context = await browser.new_context(locale="fr-FR")
        page = await context.new_page()
        await page.goto(h.settings.public_url + "/console/login")
        await page.get_by_label("Identifiant").fill("Marie")
        await page.get_by_label("Mot de passe").fill("mot-de-passe-1")
        await page.get_by_role("button", name="Se connecter").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Supervision du standard")
        cell = page.locator("#queues td[data-callbacks='1']")
        await expect(cell).to_contain_text("1, le plus ancien depuis ")
        await expect(page.locator("#queues")).to_contain_text("Rappels en attente")
        assert await serious_violations(page) == []
        await page.screenshot(path=str(screenshot_path("console-pending-callbacks")),
                              full_page=True)
        await context.close()
