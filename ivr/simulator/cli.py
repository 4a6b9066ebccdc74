"""`ivr simulate`: one call against a server at a URL, or in-process on virtual time."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ivr import keys
from ivr.db.migrate import migrate_url
from ivr.db.pool import server_url
from ivr.flow.hours import closed_reason
from ivr.flow.loader import load_flow
from ivr.flow.model import Flow
from ivr.settings import Settings, load_settings
from ivr.simulator.harness import running
from ivr.simulator.remote import Outcome, fallbacks_answered, play_remote
from ivr.simulator.sandbox import Sandbox, describe, throwaway
from ivr.simulator.script import AgentScript, CallerScript, CallResult, Input, Press, Say, Silence
from ivr.simulator.twilio import HungUp
from ivr.startup import DATABASE_ERRORS, database_error
from ivr.store import agents

SIMULATED_AGENT = ("Standardiste simulé", "client:standardiste-simule")


class Refused(Exception):
    """A flag that cannot apply to this call; the message is one line saying why."""


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
    parser.add_argument("--real-database", action="store_true",
                        help="in-process: write to the configured database instead of a "
                             "throwaway one")
    parser.add_argument("--agent", choices=("answer", "never", "busy", "voicemail"),
                        default="answer",
                        help="what the simulated standardist's phone does when offered a call")
    parser.add_argument("--agent-after", type=float, default=3.0, metavar="SECONDS",
                        help="seconds the standardist's phone rings before they answer")
    parser.add_argument("--talk", type=float, metavar="SECONDS",
                        help="length of the conversation (default 60 in-process, 5 with --url)")


def _inputs(argv: list[str]) -> list[tuple[str, Input]]:
    """Scripted inputs, with the flag that gave each, in command-line order."""
    inputs: list[tuple[str, Input]] = []
    it = iter(argv)
    for arg in it:
        flag, equals, value = arg.partition("=")
        if flag in ("--press", "--say") and not equals:
            value = next(it, "")
        if flag == "--press":
            inputs.append((f"--press {value}", Press(value)))
        elif flag == "--say":
            inputs.append((f"--say {value!r}", Say(value)))
        elif arg == "--silence":
            inputs.append(("--silence", Silence()))
    return inputs


class Answers:
    """The caller's answers: the scripted ones in order, then the keyboard if interactive."""

    def __init__(self, scripted: list[tuple[str, Input]], interactive: bool) -> None:
        self.left = list(scripted)
        self.interactive = interactive

    def unused(self) -> list[str]:
        """The flags of the scripted answers no prompt asked for."""
        return [flag for flag, _ in self.left]

    def __call__(self, heard: list[str]) -> asyncio.Future[Input] | Input:
        """The next answer; the keyboard first shows what the caller has just heard."""
        if self.left:
            return self.left.pop(0)[1]
        if not self.interactive:
            raise HungUp  # nothing more to say: the caller hangs up, as Twilio would see it
        for line in heard:
            print(f"🔊 {line}", flush=True)
        return asyncio.get_running_loop().run_in_executor(None, _read_keyboard)


def _read_keyboard() -> Input:
    # The prompt goes to stdout with the menu text (input() alone may write it to stderr).
    print("Vos touches ou votre phrase (vide = silence, q = raccrocher) > ", end="", flush=True)
    line = input().strip()
    if line == "q":
        raise EOFError
    if not line:
        return Silence()
    if all(ch in "0123456789*#" for ch in line):
        return Press(line)
    return Say(line)


def run(args: argparse.Namespace) -> int:
    """Run one simulated call, print its transcript; non-zero when something went wrong."""
    scripted = _inputs(sys.argv[1:])
    interactive = not scripted and args.hangup_after is None and sys.stdin.isatty()
    answers = Answers(scripted, interactive)
    talk = args.talk if args.talk is not None else (5.0 if args.url else 60.0)
    script = CallerScript(hangup_after=args.hangup_after, from_number=args.from_number,
                          talk_seconds=talk)
    agent = AgentScript(behaviour=args.agent, answer_after=args.agent_after, talk_seconds=talk)
    try:
        if args.url:
            if args.at:
                raise Refused("--at applies only in-process: the server at --url keeps its own "
                              "clock (outside opening hours, start it with `ivr serve --dev "
                              "--open`)")
            if args.real_database:
                raise Refused("--real-database applies only in-process: the server at --url "
                              "uses its own database")
            outcome = asyncio.run(play_remote(args.url, script, agent, answers))
        else:
            outcome = asyncio.run(_local(args, script, agent, answers))
    except (EOFError, KeyboardInterrupt):
        return 0
    except Refused as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 2
    print(outcome.result.transcript)
    print(_summary(outcome.result))
    return _verdict(outcome, answers)


def _verdict(outcome: Outcome, answers: Answers) -> int:
    if outcome.result.error:
        if "HTTP status 403" in outcome.result.error:
            print("ivr: the server refused the signature: --url must be the server's "
                  "IVR_PUBLIC_URL and TWILIO_AUTH_TOKEN the token it uses", file=sys.stderr)
        return 1
    if outcome.fallbacks:
        print(f"ivr: {outcome.fallbacks} webhook(s) answered the fallback TwiML (the caller "
              "heard the technical-error message): see the server's log", file=sys.stderr)
        return 1
    if answers.unused():
        print(f"ivr: {', '.join(answers.unused())} not used: the call ended before a prompt "
              "asked for it", file=sys.stderr)
        return 2
    return 0


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


def _in_process_settings() -> dict[str, str]:
    """Settings for a server that lives only for this call: fresh secrets, nothing kept."""
    return {**os.environ, "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
            "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
            "IVR_ADMIN_TOKEN": secrets.token_urlsafe(16), "IVR_HASH_KEY": secrets.token_hex(32),
            "IVR_PUBLIC_URL": "http://127.0.0.1:8080", "IVR_AGENT_CALLER_ID": "+33477000000"}


async def _local(args: argparse.Namespace, script: CallerScript, agent: AgentScript,
                 answers: Answers) -> Outcome:
    settings = load_settings(_in_process_settings())
    flow = load_flow(settings.flow_path)
    start = datetime.now(UTC)
    if args.at:
        moment = datetime.fromisoformat(args.at)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(flow.timezone))
        start = moment.astimezone(UTC)
    reason = closed_reason(flow, start)
    if reason is not None and answers.left:
        local = start.astimezone(ZoneInfo(flow.timezone)).strftime("%Y-%m-%d %H:%M")
        raise Refused(f"{answers.left[0][0]} cannot apply: the switchboard is closed at {local} "
                      f"({reason}), the call ends on the closed message")
    where = describe(settings.database_url, str(settings.data_dir))
    try:
        async with server_url(settings.database_url, settings.data_dir) as url:
            if args.real_database:
                print(f"simulation in the configured database ({where}): its data is changed",
                      flush=True)
                return await _play(settings, flow, start, Sandbox(url, where), script, agent,
                                   answers, seed=False)
            async with throwaway(url, where) as sandbox:
                print(f"simulation in a {sandbox.description}", flush=True)
                return await _play(settings, flow, start, sandbox, script, agent, answers,
                                   seed=True)
    except DATABASE_ERRORS as exc:
        raise database_error(exc, settings.database_url) from None


async def _play(settings: Settings, flow: Flow, start: datetime, sandbox: Sandbox,
                script: CallerScript, agent: AgentScript, answers: Answers, *,
                seed: bool) -> Outcome:
    await migrate_url(sandbox.url)
    async with running(settings, flow, sandbox.url, start) as harness:
        harness.twilio.default_agent = agent
        if seed:
            # A throwaway database has no staff: one simulated standardist covers every service.
            pool = harness.app[keys.POOL]
            added = await agents.add(pool, *SIMULATED_AGENT, list(flow.services), start)
            await agents.set_status(pool, added.id, "available", start)
        result = await harness.twilio.call(script, answers)
        await harness.twilio.settle()
        errors = sum(fallbacks_answered(app[keys.METRICS].registry) for app in harness.apps)
    return Outcome(result, errors)

