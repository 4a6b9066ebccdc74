"""The `ivr` command line: serve, migrate, flow check, crisis, agents, simulate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

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
from ivr.store import agents, crisis

log = logging.getLogger("ivr")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr", description=__doc__)
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
                     help="comma-separated: crisis,immigration,road_safety,user_relations,"
                          "reception")
    ag.add_parser("list", help="list agents")
    rm = ag.add_parser("remove", help="remove an agent")
    rm.add_argument("agent_id", type=int)
    st = ag.add_parser("status", help="set an agent's status")
    st.add_argument("agent_id", type=int)
    st.add_argument("status", choices=agents.STATUSES)
    from ivr.simulator.cli import add_arguments

    add_arguments(sub.add_parser("simulate", help="play Twilio's side of a call"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            from ivr.server import serve

            if args.open and not args.dev:
                raise SettingsError("--open applies only with --dev (a real switchboard "
                                    "keeps the flow's opening hours)")
            fresh = args.dev and not (database_location()[1] / DEV_SECRETS_FILE).exists()
            return serve(load_settings(dev=args.dev), new_secrets=fresh, open_always=args.open)
        if args.command == "flow":
            flow = load_flow(args.file)
            print(f"{args.file}: ok ({flow.name}, {len(flow.services)} services)")
            return 0
        if args.command == "simulate":
            from ivr.simulator.cli import run

            return run(args)
        return asyncio.run(_with_database(args))
    except (SettingsError, FlowError, agents.AgentError, ValueError) as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 1


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
        return await _agents(pool, args)


def _who(by: str | None) -> str:
    import getpass

    return by or f"cli:{getpass.getuser()}"


async def _crisis(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    if args.action == "on":
        until = datetime.fromisoformat(args.until) if args.until else None
        if until is not None and until.tzinfo is None:
            raise ValueError("--until needs a time zone, for example 2026-12-01T18:00+01:00")
        await crisis.switch(pool, active=True, message=args.message, until=until, now=now,
                            by=_who(args.by))
    elif args.action == "off":
        await crisis.switch(pool, active=False, message=None, until=None, now=now,
                            by=_who(args.by))
    state = await crisis.status(pool, now)
    print(f"crisis mode: {'ON' if state.active else 'off'}")
    if state.active:
        print(f"message: {state.message}")
        print(f"until: {state.until.isoformat() if state.until else 'switched off by hand'}")
    if state.changed_at:
        print(f"last change: {state.changed_at.isoformat()} by {state.changed_by}")
    return 0


async def _agents(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    if args.action == "add":
        agent = await agents.add(pool, args.name, args.contact,
                                 [s.strip() for s in args.services.split(",") if s.strip()], now)
        print(f"added agent {agent.id}: {agent.name} ({agent.status})")
    elif args.action == "list":
        for a in await agents.list_all(pool, now):
            note = f"  [{a.note}]" if a.note else ""
            print(f"{a.id:>4}  {a.status:<9}  {a.name:<24} {a.contact:<20} "
                  f"{','.join(a.services)}{note}")
    elif args.action == "remove":
        if not await agents.remove(pool, args.agent_id):
            print(f"ivr: no agent {args.agent_id}", file=sys.stderr)
            return 1
        print(f"removed agent {args.agent_id}")
    else:
        changed = await agents.set_status(pool, args.agent_id, args.status, now)
        if changed is None:
            print(f"ivr: no agent {args.agent_id}", file=sys.stderr)
            return 1
        print(f"agent {changed.id}: {changed.status}")
    return 0

