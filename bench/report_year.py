"""Benchmark: `ivr report` and `ivr staffing --from/--to` on a year of synthetic calls.

Run with `make bench-report`. Starts a throwaway embedded PostgreSQL, inserts about 45,000
calls for 2025 directly (ivr.report.synthetic), then times each report format and the
measured staffing table, best of three. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import date
from pathlib import Path

from ivr.db.embedded import EmbeddedPostgres
from ivr.db.migrate import migrate_url
from ivr.db.pool import create_pool
from ivr.flow.loader import load_flow
from ivr.report import formats, html
from ivr.report.period import Period, open_days
from ivr.report.queries import build
from ivr.report.synthetic import fill
from ivr.staffing.measured import measure
from ivr.staffing.plan import plan

ROOT = Path(__file__).resolve().parent.parent


async def main(url: str) -> None:
    """Fill, then time."""
    await migrate_url(url)
    flow = load_flow(ROOT / "flows" / "loire.yaml")
    year = Period(date(2025, 1, 1), date(2025, 12, 31), flow.timezone)
    pool = await create_pool(url)
    try:
        started = time.perf_counter()
        rows = await fill(pool, flow, year)
        print(f"inserted {rows} calls for {year.first}..{year.last} "
              f"in {time.perf_counter() - started:.2f} s")
        await pool.execute("ANALYZE")

        async def timed(label: str, work: object) -> None:
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                await work()  # type: ignore[operator]
                best = min(best, time.perf_counter() - started)
            print(f"{label:<40} {best * 1000:8.0f} ms (best of 3)")

        async def queries() -> None:
            await build(pool, flow, year)

        async def as_html() -> None:
            html.render(flow, await build(pool, flow, year))

        async def as_json() -> None:
            formats.to_json(await build(pool, flow, year))

        days = open_days(flow, year)

        async def staffing() -> None:
            measured = await measure(pool, year, days)
            plan(flow, year, days, measured, wrap_up_seconds=30, answer_within=20, share=0.85)

        await timed("report queries (year)", queries)
        await timed("report --format json (year)", as_json)
        await timed("report --format html (year, 3 charts)", as_html)
        await timed("staffing --from/--to (year, Erlang A)", staffing)
    finally:
        await pool.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as folder:
        server = EmbeddedPostgres(Path(folder))
        try:
            asyncio.run(main(server.start()))
        finally:
            server.stop()
