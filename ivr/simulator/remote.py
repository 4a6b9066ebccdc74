"""`ivr simulate --url`: Twilio's side of one call to a running server, standardist included."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from ivr.settings import DEV_SECRETS_FILE, DEV_TWILIO_API, SettingsError, dev_secrets
from ivr.simulator.clock import RealClock
from ivr.simulator.rest import rest_app
from ivr.simulator.script import AgentScript, CallerScript, CallResult
from ivr.simulator.twilio import AskInput, FakeTwilio
from ivr.startup import StartupError, reason

FALLBACK_COUNTER = "ivr_webhook_errors"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Agent legs still ringing or talking when the caller is gone are given this long to end.
SETTLE_SECONDS = 90.0


@dataclass
class Outcome:
    """A finished simulated call and how many webhooks answered their fallback TwiML."""

    result: CallResult
    fallbacks: int


def fallbacks_answered(registry: CollectorRegistry) -> int:
    """Webhooks a server answered with its fallback TwiML, read from its own registry."""
    return int(sum(sample.value for metric in registry.collect()
                   if metric.name == FALLBACK_COUNTER
                   for sample in metric.samples if sample.name.endswith("_total")))


def _fallbacks_in(text: str) -> int:
    return int(sum(sample.value for metric in text_string_to_metric_families(text)
                   if metric.name == FALLBACK_COUNTER
                   for sample in metric.samples if sample.name.endswith("_total")))


def _why(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return reason(exc.os_error)
    return reason(exc)


async def _check_server(session: aiohttp.ClientSession, url: str) -> None:
    """A dead or wrong --url stops here, in one line, before any call is made."""
    try:
        async with session.get(f"{url}/healthz") as response:
            if response.status != 200:
                raise StartupError(f"{url}/healthz answered {response.status}: is --url an "
                                   "ivr server?")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise StartupError(f"no server answers at --url {url}: {_why(exc)}") from None


async def _scrape_fallbacks(session: aiohttp.ClientSession, url: str) -> int | None:
    try:
        async with session.get(f"{url}/metrics") as response:
            if response.status != 200:
                return None
            return _fallbacks_in(await response.text())
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None


def _secrets() -> tuple[str, str]:
    """The auth token and account SID the server checks: the environment's, or --dev's."""
    token = os.environ.get("TWILIO_AUTH_TOKEN")
    sid = os.environ.get("TWILIO_ACCOUNT_SID")
    if not token:
        secrets_file = Path(os.environ.get("IVR_DATA_DIR", "var")) / DEV_SECRETS_FILE
        if not secrets_file.exists():
            raise SettingsError("TWILIO_AUTH_TOKEN is not set: use the token `ivr serve` "
                                f"printed, or run from the folder holding {secrets_file}")
        dev = dev_secrets(secrets_file.parent)
        token, sid = dev["TWILIO_AUTH_TOKEN"], sid or dev["TWILIO_ACCOUNT_SID"]
    return token, sid or "AC" + "0" * 32


@asynccontextmanager
async def stand_in(twilio: FakeTwilio, behaviour: str) -> AsyncIterator[str]:
    """Listen where the server places agent calls (TWILIO_API_BASE_URL, --dev's default)."""
    base = os.environ.get("TWILIO_API_BASE_URL", "").strip() or DEV_TWILIO_API
    parts = urlsplit(base)
    if parts.hostname not in LOOPBACK:
        yield f"the server places agent calls through {base}: no standardist is simulated"
        return
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    runner = web.AppRunner(rest_app(twilio), access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise StartupError(
                f"cannot stand in for Twilio's REST API on {host}:{port} (TWILIO_API_BASE_URL):"
                f" {os.strerror(exc.errno or 0).lower()} (is another `ivr simulate --url` "
                "running?)") from None
        yield (f"standing in for Twilio's REST API on {base}: the simulated standardist's "
               f"phone will {behaviour}")
    finally:
        await runner.cleanup()


async def play_remote(url: str, script: CallerScript, agent: AgentScript,
                      ask: AskInput) -> Outcome:
    """One call to the server at `url`, the standardist's side played by the REST stand-in."""
    url = url.rstrip("/")
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await _check_server(session, url)
        token, sid = _secrets()
        before = await _scrape_fallbacks(session, url)
        twilio = FakeTwilio(base_url=url, auth_token=token, account_sid=sid, clock=RealClock(),
                            session=session)
        twilio.default_agent = agent
        async with stand_in(twilio, agent.behaviour) as note:
            print(note, flush=True)
            try:
                result = await twilio.call(script, ask)
                # A leg that outlives the bound is cancelled with the wait.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(twilio.settle(), SETTLE_SECONDS)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise StartupError(f"the server at --url {url} stopped answering: "
                                   f"{_why(exc)}") from None
        after = await _scrape_fallbacks(session, url)
    fallbacks = after - before if before is not None and after is not None else 0
    return Outcome(result, fallbacks)
