"""The aiohttp application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web
from twilio.request_validator import RequestValidator

from ivr import acd, http_errors, keys
from ivr.callbacks.ticker import callback_ticker
from ivr.clock import Clock, SystemClock, WallTimer
from ivr.console import setup_console
from ivr.crisis_cache import CrisisCache
from ivr.db.pool import database
from ivr.degraded import OUTAGE
from ivr.dialer import Dialer
from ivr.dispatch import Dispatcher, Timer
from ivr.flow.loader import load_flow
from ivr.flow.model import Flow
from ivr.hold_music import CLIPS, clip_wav
from ivr.live import LIVE, LiveGauges
from ivr.metrics import Metrics
from ivr.pinned_clock import PinnedClock
from ivr.replay import journal_context
from ivr.retention_task import daily_purge
from ivr.ringback import ringback_wav
from ivr.security import MAX_FORM_BYTES, twilio_guard
from ivr.settings import Settings
from ivr.timeouts import body_deadline
from ivr.views import (
    admin,
    agent,
    callback,
    health,
    openapi,
    queue,
    status,
    survey,
    transfer,
    voice,
)


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    async with database(settings.database_url, settings.data_dir) as pool:
        app[keys.POOL] = pool
        yield


async def _crisis_cache(app: web.Application) -> AsyncIterator[None]:
    cache = CrisisCache(app[keys.POOL])
    await cache.start()
    app[keys.CRISIS] = cache
    yield
    await cache.stop()


async def _dialer(app: web.Application) -> AsyncIterator[None]:
    dialer = Dialer(app[keys.SETTINGS])
    app[keys.DIALER] = dialer
    yield
    await dialer.close()


async def _dispatcher(app: web.Application) -> AsyncIterator[None]:
    clock = app[keys.CLOCK]
    deps = acd.Offering(app[keys.POOL], app[keys.DIALER], app[keys.SETTINGS], clock,
                        app[keys.METRICS])
    # A clock that can sleep (the simulator's virtual one) runs the dispatcher on its time.
    base = clock.inner if isinstance(clock, PinnedClock) else clock
    virtual = isinstance(base, Timer)
    dispatcher = Dispatcher(deps, base if isinstance(base, Timer) else WallTimer(),
                            None if virtual else app[keys.SETTINGS].dispatch_tick_seconds,
                            hold=lambda: _replaying(app))
    await dispatcher.start()
    app[keys.DISPATCHER] = dispatcher
    yield
    await dispatcher.stop()


def create_app(settings: Settings, *, clock: Clock | None = None, flow: Flow | None = None,
               pool: asyncpg.Pool | None = None) -> web.Application:
    """Build the server; with `pool` given, the caller owns the database (tests do)."""
    http_errors.install()
    app = web.Application(middlewares=[body_deadline(settings.body_timeout_seconds,
                                                     MAX_FORM_BYTES),
                                       twilio_guard, admin.admin_guard],
                          client_max_size=MAX_FORM_BYTES)
    app[keys.SETTINGS] = settings
    # Late and replayed webhooks write at their arrival time (ivr/pinned_clock.py).
    app[keys.CLOCK] = PinnedClock(clock or SystemClock())
    app[keys.FLOW] = flow or load_flow(settings.flow_path)
    app[keys.METRICS] = Metrics()
    app[keys.VALIDATOR] = RequestValidator(settings.twilio_auth_token)
    if pool is None:
        app.cleanup_ctx.append(_database)
    else:
        app[keys.POOL] = pool
    app.cleanup_ctx.append(_crisis_cache)
    app.cleanup_ctx.append(journal_context)
    app.cleanup_ctx.append(_dialer)
    app.cleanup_ctx.append(_dispatcher)
    app.cleanup_ctx.append(daily_purge)
    app.cleanup_ctx.append(callback_ticker)
    app[LIVE] = LiveGauges(settings.live_gauges_seconds)
    if settings.metrics_port is not None:
        app.cleanup_ctx.append(health.metrics_site)
    _routes(app, ringback_wav(settings.ring_cycle_seconds))
    setup_console(app)
    app[keys.METRICS].prime([*app[keys.FLOW].services, "none"], _webhook_routes(app))
    return app


def _replaying(app: web.Application) -> bool:
    """No offers while the outage journal is replayed: callers who left may still look queued."""
    outage = app.get(OUTAGE)
    return outage is not None and outage.journal.depth > 0


def _webhook_routes(app: web.Application) -> list[str]:
    """The names the signature middleware counts webhook errors under."""
    return sorted({route.name for route in app.router.routes()
                   if route.name and route.resource is not None
                   and route.resource.canonical.startswith("/twilio/")})


def _routes(app: web.Application, ringback: bytes) -> None:
    async def ringback_audio(request: web.Request) -> web.Response:
        return web.Response(body=ringback, content_type="audio/wav",
                            headers={"Cache-Control": "public, max-age=86400"})

    r = app.router
    r.add_post("/twilio/voice", voice.incoming, name="voice")
    r.add_post("/twilio/gather", voice.gather, name="gather")
    r.add_post("/twilio/status", status.call_status, name="status")
    r.add_post("/twilio/queue/wait", queue.wait, name="wait")
    r.add_post("/twilio/queue/done", queue.done, name="queue_done")
    r.add_post("/twilio/queue/pickup", queue.pickup, name="pickup")
    r.add_post("/twilio/agent/answer", agent.answer, name="agent_answer")
    r.add_post("/twilio/agent/accept", agent.accept, name="agent_accept")
    r.add_post("/twilio/agent/no-key", agent.no_key, name="agent_no_key")
    r.add_post("/twilio/agent/dial-done", agent.dial_done, name="agent_dial_done")
    r.add_post("/twilio/agent/status", agent.status, name="agent_status")
    r.add_post("/twilio/agent/fallback", agent.fallback, name="agent_fallback")
    r.add_get("/audio/ringback.wav", ringback_audio, name="ringback")
    clips = [clip_wav(i) for i in range(CLIPS)]
    names = [str(i) for i in range(CLIPS)]

    async def hold_audio(request: web.Request) -> web.Response:
        n = request.match_info["n"]
        if n not in names:  # not str.isdigit(): int("²") would raise
            raise web.HTTPNotFound()
        return web.Response(body=clips[names.index(n)], content_type="audio/wav",
                            headers={"Cache-Control": "public, max-age=86400"})

    r.add_get("/audio/hold/{n}.wav", hold_audio, name="hold_music")
    r.add_get("/healthz", health.healthz, name="healthz")
    r.add_get("/readyz", health.readyz, name="readyz")
    r.add_get("/metrics", health.metrics, name="metrics")
    r.add_get("/admin/openapi.json", openapi.openapi)
    r.add_get("/admin/crisis", admin.get_crisis)
    r.add_post("/admin/crisis", admin.set_crisis)
    r.add_get("/admin/agents", admin.list_agents)
    r.add_post("/admin/agents", admin.create_agent)
    r.add_delete("/admin/agents/{agent_id}", admin.delete_agent)
    r.add_post("/admin/agents/{agent_id}/status", admin.set_agent_status)
    r.add_post("/admin/calls/{call_sid}/transfer", admin.transfer_call)
    r.add_post("/twilio/transfer", transfer.requeue, name="transfer")
    r.add_post("/twilio/survey", survey.answer, name="survey")
    _callback_routes(app)


def _callback_routes(app: web.Application) -> None:
    """Issue 16: the callback's key in the wait, its confirmation, and the call back."""
    r = app.router
    r.add_post("/twilio/callback/request", callback.request_callback, name="callback_request")
    r.add_post("/twilio/callback/confirm", callback.confirm, name="callback_confirm")
    r.add_post("/twilio/callback/agent", callback.agent_answer, name="callback_agent")
    r.add_post("/twilio/callback/reached", callback.reached, name="callback_reached")
    r.add_post("/twilio/callback/dial-done", callback.dial_done, name="callback_dial_done")
