"""The bench's printed table (the JSON file holds every figure)."""

from __future__ import annotations

from typing import Any


def phase_line(p: dict[str, Any]) -> str:
    """One line per phase while the bench runs."""
    head = f"round {p['round']:>2}  c={p['concurrency']:<4} {p['contender']:<8} {p['mode']:<6}"
    if p["mode"] == "calls":
        return (f"{head} {p['calls_per_s']:7.1f} calls/s  {p['calls_completed']} complete, "
                f"{p['calls_failed']} failed  cpu server {p['server_cpu_s']:.1f}s "
                f"pg {p['pg_cpu_s']:.1f}s")
    stages = "  ".join(f"{name} {s['routes'].get(name, {}).get('rps', 0):7.1f}/s"
                       for name, s in p["stages"].items())
    return f"{head} {stages}  cpu server {p['server_cpu_s']:.1f}s pg {p['pg_cpu_s']:.1f}s"


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(summary: dict[str, Any]) -> str:
    """Per route and per concurrency: req/s, percentiles, ratio; then the whole path."""
    lines = [f"ivr bench, {summary['date']}, {summary['machine']['cpus']} CPUs, "
             f"medians of {summary['settings']['rounds']} round(s) of "
             f"{summary['settings']['seconds']:g} s"]
    for concurrency, m in summary["medians"].items():
        lines.append("")
        lines.append(f"{concurrency} concurrent calls "
                     f"(ceiling: {_fmt(m['ceiling_rps'], '.0f')} req/s)")
        lines.append(f"  {'route':<28}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
                     f"{'x ceiling':>11}")
        for route, f in m["routes"].items():
            if not f:
                continue
            lines.append(f"  {route:<28}{f['rps']:>8.0f}{f['p50_ms']:>9.1f}{f['p95_ms']:>9.1f}"
                         f"{f['p99_ms']:>9.1f}{_fmt(f['ratio_to_ceiling'], '.2f'):>11}")
        w = m["complete_calls"]
        if w:
            lines.append(
                f"  complete calls: {w['calls_per_s']:.1f}/s in the window, "
                f"{w['calls_per_s_overall']:.1f}/s with the last calls' end "
                f"({w['webhooks_per_call']:.1f} webhooks each; "
                f"x{_fmt(w['ratio_to_ceiling'], '.2f')} of the ceiling's webhooks/s); "
                f"CPU per call: server {1000 * w['server_cpu_s_per_call']:.1f} ms, "
                f"PostgreSQL {1000 * w['pg_cpu_s_per_call']:.1f} ms "
                f"(ceiling: {1000 * (w['ceiling_server_cpu_s_per_request'] or 0):.2f} ms "
                f"per first webhook)")
    rt = summary["round_trips"]
    lines.append("")
    lines.append(f"PostgreSQL per complete call: {rt['round_trips_per_call']:.1f} round trips, "
                 f"{rt['statements_per_call']:.1f} statements ({rt['calls']} calls counted)")
    rss = summary["rss"]
    lines.append(f"RSS of ivr serve: {rss['start'] / 2**20:.0f} MiB after start-up, "
                 f"{rss['end'] / 2**20:.0f} MiB at the end")
    if rss["soak"]:
        s = rss["soak"]
        lines.append(f"soak {s['seconds']:g} s, {s['calls']} calls: RSS "
                     f"{s['rss_before'] / 2**20:.0f} -> {s['rss_after'] / 2**20:.0f} MiB "
                     f"({100 * s['growth']:+.1f}%)")
    check = summary["check"]
    lines.append("")
    for name, c in check["checks"].items():
        mark = "ok " if c["expected"] == c["found"] else "MISMATCH"
        lines.append(f"  {mark} {name}: {c['expected']:g} / {c['found']:g}")
    if check["client_errors"]:
        lines.append(f"  client errors: {check['client_errors']}")
    lines.append("every call accounted for" if check["ok"]
                 else "FAILED: a call was lost or miscounted")
    return "\n".join(lines)
