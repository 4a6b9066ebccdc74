"""The standardists' and managers' console, served by the app under /console."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ivr.console import events, views
from ivr.console.live import Hub

HERE = Path(__file__).resolve().parent
POLL_SECONDS = 1.0


def setup_console(app: web.Application, *, poll_seconds: float = POLL_SECONDS) -> None:
    """Add the console's routes, templates and live-update hub to the app."""
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                         autoescape=True)
    app[events.HUB] = Hub(app, poll_seconds)

    async def release_viewers(app: web.Application) -> None:
        await app[events.HUB].close()

    app.on_shutdown.append(release_viewers)
    r = app.router
    r.add_get("/console", views.home, name="console")
    r.add_get("/console/login", views.login_form, name="console_login")
    r.add_post("/console/login", views.login)
    r.add_post("/console/logout", views.logout, name="console_logout")
    r.add_get("/console/agent", views.agent_page, name="console_agent")
    r.add_post("/console/agent/status", views.my_status)
    r.add_post("/console/agent/transfer", views.my_transfer)
    r.add_get("/console/manager", views.manager_page, name="console_manager")
    r.add_post("/console/manager/agent-status", views.agent_status)
    r.add_post("/console/manager/crisis", views.crisis_switch)
    r.add_get("/console/events", events.stream)
    r.add_static("/console/static", HERE / "static", name="console_static")
