"""Flow files are validated with messages that name the file, the place and the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.flow.loader import FlowError, load_flow
from tests.conftest import ROOT

LOIRE = ROOT / "flows" / "loire.yaml"


def _broken(tmp_path: Path, change: Any) -> Path:
    raw = yaml.safe_load(LOIRE.read_text())
    change(raw)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def test_loire_flow_checks_ok() -> None:
    """`ivr flow check flows/loire.yaml` passes."""
    done = subprocess.run([sys.executable, "-m", "ivr", "flow", "check", str(LOIRE)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout


@pytest.mark.parametrize(("change", "place", "problem"), [
    # Any service name is allowed now (issue 15: the flow file alone names the services);
    # a name that cannot make a queue name is still refused.
    (lambda r: r["services"].update({"Pass ports": r["services"]["crisis"]}),
     "services.Pass ports", "a service name must be"),
    (lambda r: r["services"]["road_safety"].update(key=2), "services.road_safety.key",
     "duplicate key"),
    (lambda r: r["prompts"].update(greeting="  "), "prompts.greeting", "non-empty"),
    (lambda r: r["opening_hours"].update(monday=["19:00-08:00"]), "opening_hours.monday.0",
     "start is not before the end"),
    (lambda r: r.update(holidays={"country": "XX"}), "holidays.country",
     "unknown holiday country"),
    (lambda r: r["prompts"].pop("closed_hours"), "prompts.closed_hours", "missing prompt"),
    (lambda r: r["services"]["crisis"]["queue"].update(overflow_to="nowhere"),
     "services.crisis.queue.overflow_to", "unknown service"),
])
def test_broken_flow_names_place(tmp_path: Path, change: Any, place: str, problem: str) -> None:
    """Each kind of mistake is reported at its place in the file."""
    path = _broken(tmp_path, change)
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert any(p == place and problem in msg for p, msg in caught.value.problems), \
        caught.value.problems
    assert str(path) in str(caught.value)


def test_flow_check_command_fails_on_broken_copy(tmp_path: Path) -> None:
    """The CLI exits non-zero and prints the place of the problem."""
    path = _broken(tmp_path, lambda r: r["services"]["immigration"].update(key="x"))
    done = subprocess.run([sys.executable, "-m", "ivr", "flow", "check", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"{path}: services.immigration.key: bad key 'x'" in done.stderr


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    """A YAML syntax error names the line."""
    path = tmp_path / "bad.yaml"
    path.write_text("id: loire\nservices: [\n")
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert "line" in str(caught.value)
