"""The browser the page tests use: the system Chromium, driven by Playwright."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser

from tests.browser import screenshot_path


async def test_chromium_renders_a_local_page(browser: Browser) -> None:
    """A page served on loopback renders in headless Chromium and can be screenshotted."""
    async def page(request: web.Request) -> web.Response:
        return web.Response(text='<html lang="fr"><h1>Bonjour</h1></html>',
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        context = await browser.new_context()
        tab = await context.new_page()
        await tab.goto(str(server.make_url("/")))
        assert await tab.inner_text("h1") == "Bonjour"
        shot = screenshot_path("smoke")
        await tab.screenshot(path=str(shot))
        assert shot.stat().st_size > 0
        await context.close()
    finally:
        await server.close()
