"""`ivr simulate`: one call against a server at a URL, or in-process on virtual time."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from ivr.db.migrate import migrate_url
from ivr.db.pool import server_url
from ivr.flow.loader import load_flow
from ivr.settings import DEV_SECRETS_FILE, SettingsError, dev_secrets, load_settings
from ivr.simulator.clock import RealClock
from ivr.simulator.harness import running
from ivr.simulator.script import CallerScript, CallResult, Input, Press, Say, Silence
from ivr.simulator.twilio import FakeTwilio


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `ivr simulate`."""
    parser.add_argument("--url", help="a running server (default: in-process, virtual time)")
    parser.add_argument("--press", action="append", default=[], metavar="KEYS",
                        help="press keys at the next prompt (repeatable, in order)")
    parser.add_argument("--say", action="append", default=[], metavar="PHRASE",
                        help="say a phrase at the next prompt (repeatable, in order)")
    parser.add_argument("--silence", action="append_const", const="", dest="silences",
                        help="say nothing at the next prompt")
    parser.add_argument("--hangup-after", type=float, metavar="SECONDS",
                        help="the caller hangs up after this many seconds")
    parser.add_argument("--at", help="in-process: the date and time of the call, "
                                     "e.g. 2026-12-25T10:00 (Europe/Paris)")
    parser.add_argument("--from", dest="from_number", default="+33611223344")


def _inputs(argv: list[str]) -> list[Input]:
    """Scripted inputs in the order their flags were given on the command line."""
    inputs: list[Input] = []
    it = iter(argv)
    for arg in it:
        if arg == "--press":
            inputs.append(Press(next(it)))
        elif arg.startswith("--press="):
            inputs.append(Press(arg.split("=", 1)[1]))
        elif arg == "--say":
            inputs.append(Say(next(it)))
        elif arg.startswith("--say="):
            inputs.append(Say(arg.split("=", 1)[1]))
        elif arg == "--silence":
            inputs.append(Silence())
    return inputs


def _from_keyboard(heard: list[str]) -> asyncio.Future[Input]:
    loop = asyncio.get_running_loop()

    def read() -> Input:
        line = input("Vos touches ou votre phrase (vide = silence, q = raccrocher) > ").strip()
        if line == "q":
            raise EOFError
        if not line:
            return Silence()
        if all(ch in "0123456789*#" for ch in line):
            return Press(line)
        return Say(line)

    return loop.run_in_executor(None, read)


def run(args: argparse.Namespace) -> int:
    """Run one simulated call and print its transcript."""
    inputs = _inputs(sys.argv[1:])
    interactive = not inputs and args.hangup_after is None and sys.stdin.isatty()
    script = CallerScript(inputs=tuple(inputs), hangup_after=args.hangup_after,
                          from_number=args.from_number)
    ask = _from_keyboard if interactive else None
    try:
        result = asyncio.run(_remote(args.url, script, ask) if args.url
                             else _local(args.at, script, ask))
    except (EOFError, KeyboardInterrupt):
        return 0
    print(result.transcript)
    print(_summary(result))
    return 1 if result.error else 0


def _summary(result: CallResult) -> str:
    parts = [f"queues: {', '.join(result.queues) or 'none'}"]
    if result.queue_wait is not None:
        parts.append(f"answered by {result.answered_by} after {result.queue_wait:.1f}s "
                     f"(ring {result.rings})")
    if result.queue_result:
        parts.append(f"queue result: {result.queue_result}")
    if result.error:
        parts.append(f"error: {result.error}")
    return "résumé — " + "; ".join(parts)


async def _remote(url: str, script: CallerScript, ask: object) -> CallResult:
    token = os.environ.get("TWILIO_AUTH_TOKEN")
    sid = os.environ.get("TWILIO_ACCOUNT_SID")
    if not token:
        secrets_file = Path(os.environ.get("IVR_DATA_DIR", "var")) / DEV_SECRETS_FILE
        if not secrets_file.exists():
            raise SettingsError("TWILIO_AUTH_TOKEN is not set: use the token `ivr serve` printed")
        dev = dev_secrets(secrets_file.parent)
        token, sid = dev["TWILIO_AUTH_TOKEN"], sid or dev["TWILIO_ACCOUNT_SID"]
    async with aiohttp.ClientSession() as session:
        twilio = FakeTwilio(base_url=url, auth_token=token, account_sid=sid or "AC" + "0" * 32,
                            clock=RealClock(), session=session)
        return await twilio.call(script, ask)  # type: ignore[arg-type]


async def _local(at: str | None, script: CallerScript, ask: object) -> CallResult:
    settings = load_settings(dev=True)
    flow = load_flow(settings.flow_path)
    start = datetime.now(UTC)
    if at:
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(flow.timezone))
        start = moment.astimezone(UTC)
    async with server_url(settings.database_url, settings.data_dir) as url:
        await migrate_url(url)
        async with running(settings, flow, url, start) as harness:
            result = await harness.twilio.call(script, ask)  # type: ignore[arg-type]
            await harness.twilio.settle()
            return result

