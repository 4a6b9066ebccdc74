"""The committee's HTML page renders in headless Chromium, self-contained and escaped."""

from __future__ import annotations

import re
from datetime import date, timedelta

import asyncpg
from playwright.async_api import Browser

from ivr.flow.model import Flow
from ivr.report import html
from ivr.report.period import Period, open_days
from ivr.report.queries import build
from ivr.report.synthetic import fill
from ivr.staffing.measured import measure
from ivr.staffing.plan import plan
from tests.browser import screenshot_path


async def test_committee_page_renders_in_chromium(pool: asyncpg.Pool, flow: Flow,
                                                  browser: Browser) -> None:
    """January to May 2026 of synthetic calls: French headings, the figures' tables, three
    inline SVG charts, a definition beside each figure, the staffing grid, no outside
    resource."""
    period = Period(date(2026, 1, 1), date(2026, 5, 31), flow.timezone)
    inserted = await fill(pool, flow, period)
    report = await build(pool, flow, period)
    days = open_days(flow, period)
    staffing = plan(flow, period, days, await measure(pool, period, days), wrap_up_seconds=30,
                    answer_within=20, share=0.85)
    page_html = html.render(flow, report, staffing=staffing)
    assert not re.search(r"""(src|href)=["']?https?:""", page_html)
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        tab = await context.new_page()
        await tab.set_content(page_html)
        assert "Préfecture de la Loire" in await tab.inner_text("h1")
        headings = await tab.locator("h2").all_inner_texts()
        assert "Par service demandé" in headings
        assert await tab.locator("svg").count() == 3
        summary = await tab.locator("table").first.inner_text()
        assert f"Appels reçus\t{inserted}" in summary
        assert f"Jours ouverts\t{len(report.open_days)}" in summary
        service_table = await tab.locator("table").nth(2).inner_text()
        for name in ("Gestion de crise", "Bureau de l'immigration", "Tous services"):
            assert name in service_table
        grid = await tab.locator("table").nth(4).inner_text()
        monday_nine = next(x for x in staffing.slots if (x.weekday, x.hour) == ("monday", 9))
        assert f"09h\t{monday_nine.needed} / 3,0" in grid
        text = await tab.inner_text("body")
        assert "Taux de décroché : décrochés / appels mis en file" in text
        assert "avant la 5e sonnerie" in text
        # Every SVG chart has drawn shapes in it, and it is visible on the page.
        for i in range(3):
            chart = tab.locator("svg").nth(i)
            assert await chart.locator("path").count() > 5
            box = await chart.bounding_box()
            assert box is not None
            assert box["width"] > 300
        shot = screenshot_path("report-committee")
        await tab.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        await context.close()


async def test_page_escapes_what_the_database_holds(pool: asyncpg.Pool, flow: Flow,
                                                    browser: Browser) -> None:
    """A service name stored in the calls table is shown as text, never as markup."""
    day = date(2026, 3, 3)
    await pool.execute(
        """INSERT INTO calls (call_sid, arrived_at, requested_service, service, outcome, state)
           VALUES ('CA1', $1, '<b id=x>gras</b>', 'reception', 'self_served', 'ended')""",
        Period(day, day, flow.timezone).start + timedelta(hours=10))
    report = await build(pool, flow, Period(day, day, flow.timezone))
    context = await browser.new_context()
    try:
        tab = await context.new_page()
        await tab.set_content(html.render(flow, report))
        assert await tab.locator("#x").count() == 0
        assert "<b id=x>gras</b>" in await tab.inner_text("body")
    finally:
        await context.close()


async def test_empty_period_has_null_rates(pool: asyncpg.Pool, flow: Flow) -> None:
    """No call at all: zero counts, rates and waits null (no denominator), days all there."""
    period = Period(date(2026, 2, 2), date(2026, 2, 8), flow.timezone)
    report = (await build(pool, flow, period)).as_json()
    assert report["calls"] == 0
    assert report["open_days"] == 5
    assert report["closed"] == {}
    for figures in report["services"].values():
        assert figures["calls"] == 0
        assert figures["taux_de_decroche"] is None
        assert figures["share_before_target"] is None
        assert figures["wait_seconds_p90"] is None
    assert list(report["by_day"]) == [(period.first + timedelta(days=n)).isoformat()
                                      for n in range(7)]
    assert report["by_hour"] == {}
    assert sum(report["by_weekday"].values()) == 0
