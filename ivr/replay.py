"""Replaying the outage journal once PostgreSQL answers again, at each webhook's own time.

Each entry is posted again to this server over loopback, exactly as Twilio signed it, with an
X-Ivr-Replay header (its original time, authenticated with IVR_HASH_KEY). The signature
middleware runs it through the usual handler with the clock set to that time, so waits,
rings and outcomes come out as they would have without the outage.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import aiohttp
from aiohttp import web

from ivr import keys
from ivr.degraded import OUTAGE, OUTAGE_ERRORS, Outage
from ivr.journal import Journal
from ivr.pinned_clock import pinned
from ivr.settings import Settings

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HEADER = "X-Ivr-Replay"
RETRY_SECONDS = 1.0
REPLAY_TIMEOUT = 30.0
MAX_TRIES = 20
def _mac(settings: Settings, at: str, path: str, signature: str) -> str:
    message = f"{at}\n{path}\n{signature}".encode()
    return hmac.new(settings.hash_key, message, hashlib.sha256).hexdigest()


def replay_time(request: web.Request) -> datetime | None:
    """The original time of a replayed webhook, when its header is present and genuine."""
    header = request.headers.get(HEADER)
    if header is None:
        return None
    at, _, mac = header.partition(" ")
    expected = _mac(request.app[keys.SETTINGS], at, request.raw_path,
                    request.headers.get("X-Twilio-Signature", ""))
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


async def replayed(request: web.Request, handler: Handler, at: datetime) -> web.StreamResponse:
    """Run a replayed webhook at its own time; 503 tells the replayer the database left again."""
    try:
        with pinned(at):
            async with asyncio.timeout(REPLAY_TIMEOUT):
                return await handler(request)
    except OUTAGE_ERRORS:
        log.warning("replay of %s stopped: database unavailable", request.path, exc_info=True)
        return web.Response(status=503, text="database unavailable\n")


class Replayer:
    """Posts journaled webhooks to this server, in order, whenever the database answers."""

    def __init__(self, app: web.Application, outage: Outage, base_url: str) -> None:
        self.app = app
        self.outage = outage
        self.base_url = base_url
        self.tries = 0  # of the oldest pending entry, while the database answers

    @property
    def journal(self) -> Journal:
        """The outage journal."""
        return self.outage.journal

    async def database_answers(self) -> bool:
        """One bounded `SELECT 1`."""
        try:
            async with asyncio.timeout(self.outage.deadline_seconds):
                await self.app[keys.POOL].fetchval("SELECT 1")
        except Exception:  # refused, frozen, pool closed: not back yet
            return False
        return True

    async def replay(self) -> bool:
        """Replay everything pending; False when the database or the server is not there."""
        if self.outage.late:
            # Handlers past their deadline may still write: let them finish first (in order).
            await asyncio.wait(set(self.outage.late), timeout=RETRY_SECONDS)
            if self.outage.late:
                return False
        if not self.journal.depth or not await self.database_answers():
            return not self.journal.depth
        timeout = aiohttp.ClientTimeout(total=REPLAY_TIMEOUT + 5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while self.journal.depth:
                for entry in self.journal.pending():
                    ok = await self._post(session, entry)
                    if ok is None:
                        self.tries += 1
                        if self.tries < MAX_TRIES:
                            return False
                        # The database answers, this entry does not go through: a bug, not
                        # an outage, must not hold every later webhook back.
                        log.error("journal entry refused %d times; dropped: %r", self.tries,
                                  {k: v for k, v in entry.items() if k != "body"})
                        ok = False
                    self.tries = 0
                    self.journal.done_one(ok)
        log.warning("journal replayed: the database has every webhook of the outage")
        if keys.DISPATCHER in self.app:
            self.app[keys.DISPATCHER].kick()
        return True

    async def _post(self, session: aiohttp.ClientSession, entry: dict[str, str]) -> bool | None:
        """True replayed, False refused for good (logged), None to try again later."""
        try:
            at, path, signature = entry["at"], entry["path"], entry["signature"]
            mac = _mac(self.app[keys.SETTINGS], at, path, signature)
            headers = {"Content-Type": entry["content_type"], "X-Twilio-Signature": signature,
                       HEADER: f"{at} {mac}"}
            body = base64.b64decode(entry["body"])
        except (KeyError, ValueError):
            log.error("journal entry unreadable, skipped: %r", entry)
            return False
        try:
            async with session.post(self.base_url + path, data=body, headers=headers) as answer:
                await answer.read()
                status = answer.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            log.warning("replay: this server did not answer; trying again later", exc_info=True)
            return None
        if status == 503:
            return None
        if status != 200:
            log.error("replay of %s refused with %s; dropped", path, status)
            return False
        return True

    async def run(self) -> None:
        """Replay whenever there is something to replay, every second."""
        while True:
            await asyncio.sleep(RETRY_SECONDS)
            if self.journal.depth:
                try:
                    await self.replay()
                except Exception:  # logged, tried again at the next tick
                    log.exception("journal replay failed")


REPLAYER = web.AppKey("replayer", Replayer)


async def journal_context(app: web.Application) -> AsyncIterator[None]:
    """The journal and its replayer for as long as the app runs; on stop, a last replay."""
    settings = app[keys.SETTINGS]
    outage = Outage(Journal(settings.data_dir / "journal", settings.journal_max_entries,
                            app[keys.METRICS].registry), settings.db_deadline_seconds,
                    app[keys.METRICS].registry)
    outage.prime(_twilio_routes(app))
    app[OUTAGE] = outage
    # The replay's own door: a loopback port onto this app that stays open after the public
    # one closes at shutdown, so the last flush can still go through the middlewares.
    runner = web.ServerRunner(app._make_handler(loop=asyncio.get_running_loop(),
                                                access_log=None))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    replayer = app[REPLAYER] = Replayer(app, outage, f"http://{host}:{port}")
    task = asyncio.create_task(replayer.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await drain(replayer, settings.shutdown_grace_seconds / 2)
        await runner.cleanup()


async def drain(replayer: Replayer, seconds: float) -> None:
    """At shutdown: let late handlers end and replay the journal, within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while replayer.journal.depth or replayer.outage.late:
                if await replayer.replay() and not replayer.outage.late:
                    break
                await asyncio.sleep(RETRY_SECONDS / 4)
    except TimeoutError:
        pass
    if replayer.journal.depth:
        log.warning("stopping with %d journaled webhooks: replayed at the next start",
                    replayer.journal.depth)


def _twilio_routes(app: web.Application) -> list[str]:
    return sorted({route.name for route in app.router.routes()
                   if route.name and route.resource is not None
                   and route.resource.canonical.startswith("/twilio/")})
