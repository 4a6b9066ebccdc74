"""`ivr staffing`: from figures, or from a period's measurements."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from ivr.db.pool import database
from ivr.flow.loader import load_flow
from ivr.report.labels import WEEKDAYS_FR
from ivr.report.period import Period, open_days
from ivr.settings import database_location, load_report_settings
from ivr.staffing.erlang import StaffingError, performance, staff
from ivr.staffing.measured import measure
from ivr.staffing.plan import Plan, plan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's options."""
    parser.add_argument("--calls-per-hour", type=float, help="offered queued calls per hour")
    parser.add_argument("--handle-seconds", type=float,
                        help="talk time plus wrap-up per call (measured when --from is given)")
    parser.add_argument("--answer-within", type=float,
                        help="seconds (default: before the target ring, e.g. 20)")
    parser.add_argument("--share", type=float, default=0.85,
                        help="share of queued calls to answer in time (default 0.85)")
    parser.add_argument("--patience-seconds", type=float,
                        help="mean patience of callers: Erlang A (default: Erlang C)")
    parser.add_argument("--agents", type=int,
                        help="evaluate this number of agents instead of searching")
    parser.add_argument("--from", dest="first", type=date.fromisoformat,
                        help="first day (YYYY-MM-DD) of the measured period")
    parser.add_argument("--to", dest="last", type=date.fromisoformat, help="last day")
    parser.add_argument("--erlang-c", action="store_true",
                        help="with --from: ignore the measured patience (no abandonment)")
    parser.add_argument("--flow", help="flow file (default: IVR_FLOW)")
    parser.add_argument("--format", choices=("table", "json"), default="table")


def run(args: argparse.Namespace) -> int:
    """Run the command; return the exit status."""
    import asyncio

    config = load_report_settings()
    within = args.answer_within
    if within is None:
        within = (config.target_ring - 1) * config.ring_cycle_seconds
    try:
        if args.first is not None or args.last is not None:
            if args.first is None or args.last is None:
                raise StaffingError("give both --from and --to")
            result = asyncio.run(_measured(args, within))
            print(json.dumps(result.as_json(), ensure_ascii=False, indent=2)
                  if args.format == "json" else _table(result))
            return 0
        if args.calls_per_hour is None or args.handle_seconds is None:
            raise StaffingError("give --calls-per-hour and --handle-seconds, "
                                "or --from and --to")
        if args.agents is not None:
            found = performance(args.calls_per_hour, args.handle_seconds, args.agents, within,
                                args.patience_seconds)
        else:
            found = staff(args.calls_per_hour, args.handle_seconds, within, args.share,
                          args.patience_seconds)
    except StaffingError as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(found.as_dict()))
    else:
        print(f"Standardistes : {found.agents} ({found.model})\n"
              f"Part décrochée en moins de {within:g} s : {found.share_before_target:.1%}\n"
              f"Probabilité d'attendre : {found.probability_of_waiting:.1%}\n"
              f"Attente moyenne : {found.average_wait_seconds:.1f} s\n"
              f"Occupation : {found.occupancy:.1%}\n"
              f"Abandons : {found.abandonment:.1%}")
    return 0


async def _measured(args: argparse.Namespace, within: float) -> Plan:
    config = load_report_settings()
    flow = load_flow(args.flow or config.flow_path)
    period = Period(args.first, args.last, flow.timezone)
    days = open_days(flow, period)
    url, data_dir = database_location()
    async with database(url, data_dir) as pool:
        measured = await measure(pool, period, days)
    return plan(flow, period, days, measured, wrap_up_seconds=config.wrap_up_seconds,
                answer_within=within, share=args.share, erlang_a=not args.erlang_c,
                handle_seconds=args.handle_seconds)


def _table(result: Plan) -> str:
    patience = ("aucun abandon (Erlang C)" if result.patience_seconds is None
                else f"{result.patience_seconds:.0f} s (Erlang A)")
    handle = "–" if result.handle_seconds is None else f"{result.handle_seconds:.0f} s"
    lines = [f"Période du {result.period.first:%d/%m/%Y} au {result.period.last:%d/%m/%Y}",
             f"Durée de traitement mesurée (conversation + après-appel) : {handle} ; "
             f"patience moyenne : {patience}",
             f"Objectif : {result.share:.0%} des appels en file décrochés en moins de "
             f"{result.answer_within:g} s",
             "",
             f"{'jour':<9} {'heure':>5} {'appels/h':>8} {'nécessaires':>11} "
             f"{'connectés':>9} {'part mesurée':>12}"]
    for s in result.slots:
        measured = "–" if s.measured_share is None else f"{s.measured_share:.0%}"
        flag = "  <- manque" if s.signed_in + 1e-9 < s.needed else ""
        lines.append(f"{WEEKDAYS_FR[s.weekday]:<9} {s.hour:>4}h {s.calls_per_hour:>8.1f} "
                     f"{s.needed:>11} {s.signed_in:>9.1f} {measured:>12}{flag}")
    return "\n".join(lines)
