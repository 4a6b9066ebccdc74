"""The server and the simulated Twilio side by side on loopback, sharing one virtual clock."""

from __future__ import annotations

import itertools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from aiohttp import web

from ivr.app import create_app
from ivr.db.pool import create_pool
from ivr.flow.model import Flow
from ivr.rings import RingPolicy
from ivr.settings import Settings
from ivr.simulator.clock import VirtualClock
from ivr.simulator.http import Disorder, Latency
from ivr.simulator.rest import rest_app
from ivr.simulator.twilio import FakeTwilio


@dataclass
class Harness:
    """A running server (one or more instances), its clock and its simulated Twilio."""

    twilio: FakeTwilio
    clock: VirtualClock
    settings: Settings
    apps: list[web.Application]

    @property
    def app(self) -> web.Application:
        """The first instance."""
        return self.apps[0]


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _balancer(backends: list[str], session: aiohttp.ClientSession) -> web.Application:
    """A round-robin reverse proxy: several instances behind one public URL."""
    turn = itertools.cycle(backends)

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("content-type", "x-twilio-signature", "authorization")}
        async with session.request(request.method, next(turn) + request.raw_path, data=body,
                                   headers=headers) as response:
            return web.Response(body=await response.read(), status=response.status,
                                content_type=response.content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


@asynccontextmanager
async def running(settings: Settings, flow: Flow, database_url: str, start: datetime, *,
                  instances: int = 1, latency: Latency | None = None,
                  disorder: Disorder | None = None) -> AsyncIterator[Harness]:
    """Start the REST stand-in and `instances` servers on one database, on virtual time."""
    clock = VirtualClock(start)
    runners: list[web.AppRunner] = []
    pools = []
    async with aiohttp.ClientSession() as session:
        rest_sock, front_sock = _bound_socket(), _bound_socket()
        rest_url = f"http://127.0.0.1:{rest_sock.getsockname()[1]}"
        public_url = f"http://127.0.0.1:{front_sock.getsockname()[1]}"
        settings = settings.with_overrides(public_url=public_url, twilio_api_base_url=rest_url)
        twilio = FakeTwilio(base_url=public_url, auth_token=settings.twilio_auth_token,
                            account_sid=settings.twilio_account_sid, clock=clock,
                            session=session, latency=latency, disorder=disorder,
                            rings=RingPolicy(settings.ring_cycle_seconds, settings.target_ring))
        twilio.admin_token = settings.admin_token  # agents' scripted transfers use the admin API
        try:
            sites: list[tuple[web.Application, socket.socket]] = [(rest_app(twilio), rest_sock)]
            apps = []
            backends = []
            for _ in range(instances):
                pool = await create_pool(database_url, max_size=5)
                pools.append(pool)
                app = create_app(settings, clock=clock, flow=flow, pool=pool)
                apps.append(app)
                if instances == 1:
                    sites.append((app, front_sock))
                else:
                    sock = _bound_socket()
                    backends.append(f"http://127.0.0.1:{sock.getsockname()[1]}")
                    sites.append((app, sock))
            if instances > 1:
                sites.append((_balancer(backends, session), front_sock))
            for app, sock in sites:
                runner = web.AppRunner(app, access_log=None)
                await runner.setup()
                runners.append(runner)
                await web.SockSite(runner, sock).start()
            yield Harness(twilio, clock, settings, apps)
        finally:
            for runner in reversed(runners):
                await runner.cleanup()
            for pool in pools:
                await pool.close()
