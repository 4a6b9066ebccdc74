"""The load generator: a separate process that plays Twilio, signing every webhook as it does.

One run is one phase, described by a JSON argument; the result is JSON on stdout.
- `first`: fresh calls' first webhook only (the contenders: `ivr serve` and the ceiling).
- `menu`: the first webhook, then the menu's action, then the caller hanging up, each stage
  measured alone on the calls the previous stage made.
- `calls`: complete calls through the whole path, with a stand-in of Twilio's REST API that
  rings the agents, answers their legs, dequeues callers as `<Dial><Queue>` does and sends
  both legs' status callbacks.
Loops are closed (each of `concurrency` callers starts its next call when one ends), bounded
in time, and talk only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

ROUTES = {"/twilio/voice": "voice", "/twilio/gather": "gather", "/twilio/queue/wait": "wait",
          "/twilio/queue/done": "queue_done", "/twilio/queue/pickup": "pickup",
          "/twilio/agent/answer": "agent_answer", "/twilio/agent/accept": "agent_accept",
          "/twilio/agent/dial-done": "agent_dial_done",
          "/twilio/agent/status": "agent_status", "/twilio/status": "status"}
KEYS = ("1", "2", "3", "4", "0")  # the Loire menu's services, in turn
RINGBACK_SECONDS = 5.0  # a waitUrl answer plays one ringback cycle before the next request
CALL_LIMIT_SECONDS = 60.0  # a call not complete by then is counted lost


class CallFailed(Exception):
    """A webhook answered something a real call could not go on with."""


def new_sid() -> str:
    """A Twilio-shaped CallSid."""
    return "CA" + secrets.token_hex(16)


@dataclass
class Stats:
    """Latencies per route, and when each request ended."""

    started: float = field(default_factory=time.perf_counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ends: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, route: str, seconds: float) -> None:
        """One answered request."""
        self.latencies[route].append(seconds)
        self.ends[route].append(time.perf_counter())

    def summary(self, window: float) -> dict[str, Any]:
        """Per route: requests, requests/s within the window, p50/p95/p99 in ms."""
        out: dict[str, Any] = {}
        until = self.started + window
        for route, values in self.latencies.items():
            ordered = sorted(values)
            in_window = sum(1 for t in self.ends[route] if t <= until)
            out[route] = {"requests": len(values), "rps": in_window / window,
                          **{f"p{q}_ms": 1000 * _percentile(ordered, q) for q in (50, 95, 99)}}
        return out


def _percentile(ordered: list[float], q: int) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


class Twilio:
    """Signed webhooks to one server, with their latencies recorded per route."""

    def __init__(self, base_url: str, auth_token: str, session: aiohttp.ClientSession,
                 stats: Stats) -> None:
        self.base_url = base_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.session = session
        self.stats = stats

    def absolute(self, url: str) -> str:
        """Twilio resolves relative URLs against the server's base."""
        return url if url.startswith("http") else self.base_url + url

    async def post(self, url: str, params: dict[str, str]) -> ET.Element:
        """POST signed; return the parsed TwiML; any other answer fails the call."""
        url = self.absolute(url)
        route = ROUTES.get(urlsplit(url).path, urlsplit(url).path)
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params)}
        started = time.perf_counter()
        try:
            async with self.session.post(url, data=params, headers=headers) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.stats.errors[f"{route}: {type(exc).__name__}"] += 1
            raise CallFailed(route) from exc
        if status != 200:
            self.stats.errors[f"{route}: HTTP {status}"] += 1
            raise CallFailed(route)
        self.stats.add(route, time.perf_counter() - started)
        try:
            return ET.fromstring(body)
        except ET.ParseError as exc:
            self.stats.errors[f"{route}: not XML"] += 1
            raise CallFailed(route) from exc


def caller_params(sid: str, **extra: str) -> dict[str, str]:
    """What Twilio sends with every request of an incoming call."""
    return {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": "+33611223344",
            "To": "+33477481234", "Caller": "+33611223344", "Called": "+33477481234",
            "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01",
            **extra}


ACCOUNT_SID = "AC" + "0" * 32


def _find(doc: ET.Element, verb: str, route: str, stats: Stats) -> ET.Element:
    node = doc.find(f".//{verb}")
    if node is None:
        stats.errors[f"{route}: no <{verb}> in the answer"] += 1
        raise CallFailed(route)
    return node


# -- first webhook and menu stages -------------------------------------------------------

async def _closed_loop(concurrency: int, seconds: float, one: Any) -> None:
    """Run `one()` from `concurrency` workers until the time is up (or `one` says stop)."""
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            try:
                if await one() is False:
                    return
            except CallFailed:
                pass

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def run_first(cfg: dict[str, Any], session: aiohttp.ClientSession) -> dict[str, Any]:
    """Fresh calls' first webhook; `menu` mode goes on with the menu choice and a hang-up."""
    stats = Stats()
    twilio = Twilio(cfg["base_url"], cfg["auth_token"], session, stats)
    gathers: deque[tuple[str, str]] = deque()
    keys = itertools.cycle(KEYS)
    made: list[str] = []

    async def first() -> None:
        sid = new_sid()
        made.append(sid)
        doc = await twilio.post("/twilio/voice", caller_params(sid))
        gathers.append((sid, _find(doc, "Gather", "voice", stats).get("action", "")))

    seconds = cfg["seconds"]
    await _closed_loop(cfg["concurrency"], seconds, first)
    result: dict[str, Any] = {"stages": {"voice": _stage(stats, seconds)},
                              "calls_made": len(made), "errors": dict(stats.errors)}
    if cfg["mode"] != "menu":
        return result

    routed: deque[str] = deque()
    stats = Stats()
    twilio.stats = stats

    async def choose() -> bool:
        if not gathers:
            return False
        sid, action = gathers.popleft()
        doc = await twilio.post(action, caller_params(sid, Digits=next(keys)))
        _find(doc, "Enqueue", "gather", stats)
        routed.append(sid)
        return True

    await _closed_loop(cfg["concurrency"], seconds, choose)
    result["stages"]["gather"] = _stage(stats, seconds)
    stats = Stats()
    twilio.stats = stats
    hung_up: list[str] = []

    async def hang_up() -> bool:
        if not routed:
            return False
        sid = routed.popleft()
        await twilio.post("/twilio/status", caller_params(sid, CallStatus="completed",
                                                         CallDuration="4", SequenceNumber="0"))
        hung_up.append(sid)
        return True

    await _closed_loop(cfg["concurrency"], seconds, hang_up)
    result["stages"]["status"] = _stage(stats, seconds)
    # Callers routed but not hung up in the window hang up now (unmeasured), as real callers
    # do: left queued with no waitUrl they would keep the later phases' standardists busy.
    twilio.stats = Stats()
    while await hang_up():
        pass
    # Routed, then gone before any waitUrl: queued from the <Enqueue> answer, so abandoned.
    result["abandoned"] = len(hung_up)
    result["errors"].update(stats.errors)
    return result


def _stage(stats: Stats, seconds: float) -> dict[str, Any]:
    # A stage that ran out of calls before its time is measured over the time it ran.
    ran = max(t for ends in stats.ends.values() for t in ends) - stats.started \
        if any(stats.ends.values()) else seconds
    window = min(seconds, max(ran, 1e-3))
    return {"seconds": window, "routes": stats.summary(window), "errors": dict(stats.errors)}


# -- complete calls ------------------------------------------------------------------------

@dataclass
class Member:
    """A caller waiting in a queue for an agent's leg to dequeue them."""

    sid: str
    picked: asyncio.Future[str]
    agent_done: asyncio.Future[bool]
    entered: float = field(default_factory=time.perf_counter)


class Switch:
    """Twilio's queues and the agents' legs, in memory."""

    def __init__(self, twilio: Twilio) -> None:
        self.twilio = twilio
        self.queues: dict[str, deque[Member]] = defaultdict(deque)
        self.legs: set[asyncio.Task[None]] = set()
        self.agent_calls = 0
        self.agent_failures = 0

    async def create_call(self, request: web.Request) -> web.Response:
        """Twilio's Calls resource: answer at once, then play the agent's leg."""
        form = await request.post()
        sid = new_sid()
        params = {k: str(v) for k, v in form.items()}
        self.agent_calls += 1
        task = asyncio.create_task(self.agent_leg(sid, params))
        self.legs.add(task)
        task.add_done_callback(self.legs.discard)
        return web.json_response({"sid": sid, "status": "queued"}, status=201)

    async def agent_leg(self, sid: str, create: dict[str, str]) -> None:
        """The agent answers at once; <Dial><Queue> takes the queue's first caller."""
        status_url = create.get("StatusCallback", "")

        def params(status: str, **extra: str) -> dict[str, str]:
            return {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": create.get("From", ""),
                    "To": create.get("To", ""), "CallStatus": status,
                    "Direction": "outbound-api", "ApiVersion": "2010-04-01", **extra}

        member: Member | None = None
        try:
            for event, status in (("initiated", "queued"), ("ringing", "ringing"),
                                  ("answered", "in-progress")):
                await self.twilio.post(status_url, params(status, CallbackSource=event))
            doc = await self.twilio.post(create["Url"], params("in-progress"))
            key = doc.find("Gather")
            if key is not None:  # "press a key to take the call": the standardist presses 1
                doc = await self.twilio.post(key.get("action", ""),
                                             params("in-progress", Digits="1"))
            dial = doc.find("Dial")
            if dial is not None:
                member = await self.dequeue(dial, params)
            await self.twilio.post(status_url, params("completed", CallDuration="0"))
        except CallFailed:
            self.agent_failures += 1
        finally:
            if member is not None and not member.agent_done.done():
                member.agent_done.set_result(True)

    async def dequeue(self, dial: ET.Element, params: Any) -> Member | None:
        """Bridge the agent to the queue's first caller, as Twilio does."""
        noun = _find(dial, "Queue", "agent_answer", self.twilio.stats)
        queue = self.queues[noun.text or ""]
        for _ in range(100):  # <Dial timeout> of 10 s, checked every 0.1 s
            if queue:
                break
            await asyncio.sleep(0.1)
        if not queue:
            await self.twilio.post(dial.get("action", ""), params(
                "in-progress", DialCallStatus="no-answer"))
            return None
        member = queue.popleft()
        queue_time = str(int(time.perf_counter() - member.entered))
        await self.twilio.post(noun.get("url", ""), caller_params(
            member.sid, QueueTime=queue_time, DequeingCallSid=params("x")["CallSid"]))
        member.picked.set_result(params("x")["CallSid"])
        await self.twilio.post(dial.get("action", ""), params(
            "in-progress", DialCallStatus="completed", DialCallSid=member.sid,
            DialCallDuration="0"))
        return member

    async def call(self, key: str) -> str:
        """One incoming call from arrival to both legs' final callbacks; return its CallSid."""
        twilio, sid = self.twilio, new_sid()
        doc = await twilio.post("/twilio/voice", caller_params(sid))
        action = _find(doc, "Gather", "voice", twilio.stats).get("action", "")
        doc = await twilio.post(action, caller_params(sid, Digits=key))
        enqueue = _find(doc, "Enqueue", "gather", twilio.stats)
        loop = asyncio.get_running_loop()
        member = Member(sid, loop.create_future(), loop.create_future())
        self.queues[enqueue.text or ""].append(member)
        wait_url = enqueue.get("waitUrl", "")
        started = time.perf_counter()
        while not member.picked.done():
            if time.perf_counter() - started > CALL_LIMIT_SECONDS:
                twilio.stats.errors["call: never dequeued"] += 1
                raise CallFailed("wait")
            doc = await twilio.post(wait_url, caller_params(sid, QueuePosition="1",
                                                            QueueTime="0"))
            if doc.find("Leave") is not None:
                twilio.stats.errors["wait: <Leave> (no agent)"] += 1
                raise CallFailed("wait")
            await asyncio.wait([member.picked], timeout=RINGBACK_SECONDS)
        await twilio.post(enqueue.get("action", ""), caller_params(
            sid, QueueResult="bridged", QueueTime="0"))
        await twilio.post("/twilio/status", caller_params(sid, CallStatus="completed",
                                                         CallDuration="5"))
        await asyncio.wait_for(member.agent_done, CALL_LIMIT_SECONDS)
        return sid


async def run_calls(cfg: dict[str, Any], session: aiohttp.ClientSession) -> dict[str, Any]:
    """Complete calls from `concurrency` callers for `seconds`, then let the last ones end."""
    stats = Stats()
    twilio = Twilio(cfg["base_url"], cfg["auth_token"], session, stats)
    switch = Switch(twilio)
    rest = web.Application()
    rest.router.add_post("/2010-04-01/Accounts/{account}/Calls.json", switch.create_call)
    runner = web.AppRunner(rest, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", cfg["rest_port"]).start()
    keys = itertools.cycle(KEYS)
    seconds = cfg["seconds"]
    deadline = stats.started + seconds
    completed: list[float] = []
    made = failed = 0

    async def one() -> None:
        nonlocal made, failed
        made += 1
        try:
            await switch.call(next(keys))
            completed.append(time.perf_counter())
        except (CallFailed, TimeoutError):
            failed += 1

    async def caller() -> None:
        while time.perf_counter() < deadline and (cfg.get("max_calls") is None
                                                  or made < cfg["max_calls"]):
            await one()

    try:
        await asyncio.gather(*(caller() for _ in range(cfg["concurrency"])))
        if switch.legs:
            await asyncio.wait(switch.legs, timeout=30)
    finally:
        await runner.cleanup()
    elapsed = time.perf_counter() - stats.started
    window = min(seconds, elapsed)
    return {"calls_made": made, "calls_completed": len(completed), "calls_failed": failed,
            "calls_per_s": sum(1 for t in completed if t <= deadline) / window,
            "seconds": window, "elapsed": elapsed, "agent_calls": switch.agent_calls,
            "agent_failures": switch.agent_failures, "routes": stats.summary(window),
            "errors": dict(stats.errors)}


async def main(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run the phase the configuration describes."""
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if cfg["mode"] == "calls":
            return await run_calls(cfg, session)
        return await run_first(cfg, session)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
