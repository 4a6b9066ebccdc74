"""The console in headless Chromium, with the server and the simulator on loopback."""

from __future__ import annotations

import asyncio

import asyncpg
from playwright.async_api import Browser, Page, expect

from ivr import keys
from ivr.simulator.harness import Harness
from ivr.simulator.script import AgentScript, CallerScript, Press
from tests.browser import screenshot_path
from tests.console_helpers import make_agent, serious_violations
from tests.helpers import key_seconds
from tests.pacer import Pacer

CLAIRE = "+33477000001"



def _pool(h: Harness) -> asyncpg.Pool:
    return h.app[keys.POOL]


async def _page(browser: Browser, h: Harness) -> Page:
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    await page.goto(h.settings.public_url + "/console/login")
    return page


async def _sign_in(page: Page, login: str, password: str = "mot-de-passe-1") -> None:
    await page.get_by_label("Identifiant").fill(login)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Se connecter").click()


async def _shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(screenshot_path(name)), full_page=True)


async def _no_serious_violations(page: Page) -> None:
    assert await serious_violations(page) == []


async def test_a_standardist_takes_a_call_seen_live_by_the_manager(
        browser: Browser, harness: Harness) -> None:
    """Sign in, go available, an offer rings, the call goes on, wrap-up; figures move by one."""
    pool, now = _pool(harness), harness.clock.now()
    claire = await make_agent(pool, "Claire", CLAIRE, ["immigration"], now)
    await make_agent(pool, "Marie", "+33477000002", ["reception"], now, role="manager")
    # Her phone rings, then she presses the key: 8 s in all.
    harness.twilio.agent_scripts[CLAIRE] = AgentScript(
        answer_after=8 - key_seconds(harness.app[keys.FLOW], "immigration"), talk_seconds=20)

    login = await _page(browser, harness)
    await _no_serious_violations(login)
    await _shot(login, "console-login")
    # Keyboard only: the login field has the focus, Tab moves on, Enter sends.
    await login.keyboard.type("Claire")
    await login.keyboard.press("Tab")
    await login.keyboard.type("mot-de-passe-1")
    await login.keyboard.press("Enter")
    agent = login
    await expect(agent.get_by_role("heading", level=1)).to_have_text("Mon poste — Claire")
    await expect(agent.locator("#me .status")).to_have_text("Hors ligne")
    await _no_serious_violations(agent)

    manager = await _page(browser, harness)
    await _sign_in(manager, "Marie")
    await expect(manager.get_by_role("heading", level=1)).to_have_text("Supervision du standard")
    await expect(manager.locator("[data-figure=calls]")).to_have_text("0")
    await _no_serious_violations(manager)

    # Go available by keyboard alone.
    available = agent.get_by_role("button", name="Me rendre disponible")
    for _ in range(20):
        if await available.evaluate("b => b === document.activeElement"):
            break
        await agent.keyboard.press("Tab")
    outline = await available.evaluate("b => getComputedStyle(b).outlineStyle")
    assert outline not in ("", "none"), "the focused button shows no outline"
    await _shot(agent, "console-agent-focus")
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#me .status")).to_have_text("Disponible")
    await expect(agent.get_by_role("status")).to_have_text("Statut mis à jour.")
    await expect(manager.locator("#agents")).to_contain_text("Disponible")

    pacer = Pacer(harness.clock)
    caller = asyncio.create_task(harness.twilio.call(CallerScript(inputs=(Press("2"),),
                                                                  talk_seconds=20)))

    async def ringing() -> bool:
        return bool(await pool.fetchval(
            "SELECT count(*) FROM offers WHERE agent_id = $1 AND state = 'ringing'", claire))

    async def talking() -> bool:
        return bool(await pool.fetchval(
            "SELECT count(*) FROM calls WHERE outcome = 'answered' AND state = 'answered'"))

    async def wrapping_up() -> bool:
        return bool(await pool.fetchval(
            "SELECT count(*) FROM agents WHERE id = $1 AND status = 'wrap_up'", claire))

    try:
        await pacer.hold_when(ringing)
        me = agent.locator("#me")
        await expect(me).to_contain_text("Appel proposé")
        await expect(me).to_contain_text("Le bureau de l'immigration")
        await expect(me).to_contain_text("sonnerie")
        await expect(agent.locator("#announce")).to_contain_text("Appel proposé")
        await expect(manager.locator("#agents")).to_contain_text("sonne")
        await _no_serious_violations(agent)
        await _shot(agent, "console-agent-offer")

        await pacer.hold_when(talking)
        await expect(me).to_contain_text("Appel en cours")
        await expect(me).to_contain_text("8 s (2e sonnerie)")
        await expect(manager.locator("#agents")).to_contain_text("en ligne")
        await _shot(agent, "console-agent-call")

        await pacer.hold_when(wrapping_up)
        await expect(me).to_contain_text("Après-appel")
        await expect(me).to_contain_text("restantes")
        await expect(agent.locator("#announce")).to_contain_text("Après-appel")
        await _shot(agent, "console-agent-wrap-up")

        figures = manager.locator("#figures")
        await expect(manager.locator("[data-figure=calls]")).to_have_text("1")
        await expect(manager.locator("[data-figure=before-target]")).to_have_text("100 % (1)")
        await expect(figures).to_contain_text("Le bureau de l'immigration")
        await _no_serious_violations(manager)
        await _shot(manager, "console-manager")
    finally:
        await pacer.stop()
        result = await caller
        await harness.twilio.settle()
    assert result.answered_by == CLAIRE
    await agent.context.close()
    await manager.context.close()


async def test_a_manager_switches_the_crisis_announcement_on(
        browser: Browser, harness: Harness) -> None:
    """The crisis form of the manager's page: the next simulated caller hears the message."""
    pool = _pool(harness)
    await make_agent(pool, "Marie", "+33477000002", ["reception"], harness.clock.now(),
                     role="manager")
    await make_agent(pool, "Claire", CLAIRE, ["immigration"], harness.clock.now())
    page = await _page(browser, harness)
    await _sign_in(page, "Marie")
    # The manager puts Claire on a break from the agents' form.
    await page.get_by_label("Agent", exact=True).select_option(label="Claire (n° 2)")
    await page.get_by_label("Nouveau statut").select_option("break")
    await page.get_by_label("Raison (pour une pause)").fill("formation")
    await page.get_by_role("button", name="Changer le statut").click()
    await expect(page.locator("#agents")).to_contain_text("En pause (formation)")
    message = "Inondations dans le Roannais : consultez loire point gouv point f r."
    await page.get_by_label("Message lu aux appelants").fill(message)
    await page.get_by_label("Fin (heure de la préfecture, facultative)").fill("2026-11-25T18:00")
    await page.get_by_role("button", name="Activer l’annonce de crise", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("Annonce de crise activée.")
    await expect(page.locator("#crisis")).to_contain_text("ACTIVE jusqu’au 25/11/2026 à 18:00")
    await _no_serious_violations(page)
    await _shot(page, "console-manager-crisis")
    heard = await harness.twilio.call(CallerScript(inputs=(Press("1"),), hangup_after=40))
    assert message in heard.heard
    entries = await pool.fetch("SELECT actor, surface, action, target FROM audit_log "
                               "WHERE surface = 'console' ORDER BY id")
    assert [(e["actor"], e["action"], e["target"]) for e in entries] == [
        ("Marie (#1)", "console.sign_in", "agent:1"), ("Marie (#1)", "agent.status", "agent:2"),
        ("Marie (#1)", "crisis.on", "crisis")]
    await page.get_by_role("button", name="Désactiver l’annonce de crise").click()
    await expect(page.locator("#crisis")).to_contain_text("Annonce de crise inactive")
    quiet = await harness.twilio.call(CallerScript(inputs=(Press("1"),), hangup_after=40))
    assert message not in quiet.heard
    await page.context.close()


async def test_refusals_in_the_browser(browser: Browser, harness: Harness) -> None:
    """A wrong password, a form without its CSRF token and an agent on the manager's page."""
    await make_agent(_pool(harness), "Claire", CLAIRE, ["immigration"], harness.clock.now())
    page = await _page(browser, harness)
    await _sign_in(page, "Claire", "pas-le-bon")
    await expect(page.get_by_role("alert")).to_have_text("Identifiant ou mot de passe incorrect.")
    await _no_serious_violations(page)
    await _shot(page, "console-login-refused")
    await _sign_in(page, "Claire")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mon poste — Claire")
    # A forged form: the same button with the CSRF field taken out.
    await page.evaluate("""() => document.querySelectorAll('input[name=csrf]')
                               .forEach(i => i.remove())""")
    await page.get_by_role("button", name="Me rendre disponible").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Formulaire refusé")
    await _shot(page, "console-csrf-refused")
    response = await page.goto(harness.settings.public_url + "/console/manager")
    assert response is not None
    assert response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("Accès refusé")
    await _shot(page, "console-manager-refused")
    status = await _pool(harness).fetchval("SELECT status FROM agents")
    assert status == "offline"
    await page.context.close()
