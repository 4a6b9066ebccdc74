"""Fill the configured database (DATABASE_URL, or the embedded one in IVR_DATA_DIR) with
synthetic calls for a period, to try `ivr report` and `ivr staffing` without a switchboard.

    .venv/bin/python bench/fill_synthetic.py --from 2026-01-01 --to 2026-05-31
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import date

from ivr.db.pool import database
from ivr.flow.loader import load_flow
from ivr.report.period import Period
from ivr.report.synthetic import fill
from ivr.settings import database_location, load_report_settings


async def main() -> None:
    """Parse the period and insert its calls."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="first", required=True, type=date.fromisoformat)
    parser.add_argument("--to", dest="last", required=True, type=date.fromisoformat)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    config = load_report_settings()
    flow = load_flow(config.flow_path)
    url, data_dir = database_location()
    async with database(url, data_dir) as pool:
        count = await fill(pool, flow, Period(args.first, args.last, flow.timezone),
                           seed=args.seed)
    print(f"inserted {count} synthetic calls")


if __name__ == "__main__":
    asyncio.run(main())
