"""`ivr report`: the period's figures as a table, CSV, JSON or the committee's HTML page."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

from ivr.db.pool import database
from ivr.flow.loader import load_flow
from ivr.flow.model import Flow
from ivr.report import formats, html
from ivr.report.period import Period, open_days
from ivr.report.queries import Report, build
from ivr.settings import database_location, load_report_settings
from ivr.staffing.erlang import StaffingError
from ivr.staffing.measured import measure
from ivr.staffing.plan import Plan, plan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's options."""
    parser.add_argument("--from", dest="first", required=True, type=date.fromisoformat,
                        help="first day, YYYY-MM-DD (the flow's time zone)")
    parser.add_argument("--to", dest="last", required=True, type=date.fromisoformat,
                        help="last day, included")
    parser.add_argument("--service", help="only the calls asking for it (a service of the flow)")
    parser.add_argument("--format", choices=("table", "csv", "json", "html"), default="table")
    parser.add_argument("--out", type=Path, help="write to this file instead of the terminal")
    parser.add_argument("--target-share", type=float, default=0.85,
                        help="target drawn on the share chart (default 0.85)")
    parser.add_argument("--flow", help="flow file (default: IVR_FLOW)")


def render(flow: Flow, report: Report, output: str, target_share: float,
           staffing: Plan | None = None) -> str:
    """The report in the chosen format."""
    if output == "json":
        return formats.to_json(report) + "\n"
    if output == "csv":
        return formats.to_csv(report)
    if output == "html":
        return html.render(flow, report, target_share, staffing)
    return formats.to_table(flow, report)


def run(args: argparse.Namespace) -> int:
    """Run the command; return the exit status."""
    config = load_report_settings()
    flow = load_flow(args.flow or config.flow_path)
    if args.service is not None and args.service not in flow.services:
        print(f"ivr report: --service: expected one of {', '.join(flow.services)}",
              file=sys.stderr)
        return 2
    period = Period(args.first, args.last, flow.timezone)

    async def fetch() -> tuple[Report, Plan | None]:
        url, data_dir = database_location()
        async with database(url, data_dir) as pool:
            report = await build(pool, flow, period, service=args.service,
                                 target_ring=config.target_ring,
                                 ring_cycle_seconds=config.ring_cycle_seconds)
            if args.format != "html" or args.service:
                return report, None
            # The page also answers "how many standardists, at which hours?".
            days = open_days(flow, period)
            measured = await measure(pool, period, days)
        within = (config.target_ring - 1) * config.ring_cycle_seconds
        try:
            return report, plan(flow, period, days, measured,
                                wrap_up_seconds=config.wrap_up_seconds,
                                answer_within=within, share=args.target_share)
        except StaffingError:  # nobody answered: no handle time to staff from
            return report, None

    report, staffing = asyncio.run(fetch())
    text = render(flow, report, args.format, args.target_share, staffing)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"written: {args.out}", file=sys.stderr)
    return 0
