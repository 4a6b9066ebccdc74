"""The Grafana dashboard reads only series the app exports or the recording rules record."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.conftest import Client

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "metrics" / "grafana" / "dashboards" / "switchboard.json"
RULES = ROOT / "metrics" / "prometheus" / "rules.yml"
NAME = re.compile(r"\b(ivr[a-z0-9_:]*)")


def _dashboard_names() -> set[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {name for panel in panels for target in panel.get("targets", [])
            for name in NAME.findall(target["expr"])}


def _recorded() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}


async def test_every_dashboard_series_exists_from_start(client: Client) -> None:
    """A panel never waits for a metric nobody exports: each name in a panel's query is on a
    fresh app's /metrics (at 0 if nothing happened yet) or is a recording rule."""
    response = await client.get("/metrics")
    assert response.status == 200
    exported = {line.split("{")[0].split(" ")[0] for line in (await response.text()).splitlines()
                if line and not line.startswith("#")}
    missing = _dashboard_names() - exported - _recorded()
    assert not missing, sorted(missing)
    assert {"ivr_callbacks_pending", "ivr_callbacks_total", "ivr_journal_depth"} <= \
        _dashboard_names()
