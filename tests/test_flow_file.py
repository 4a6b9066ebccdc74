"""Flow files are validated with messages that name the file, the place and the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.flow.loader import FlowError, load_flow
from ivr.flow.model import Flow
from ivr.flow.speaking import main_menu, spoken_seconds
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
    (lambda r: r.update(crisis_service="cellule"), "crisis_service", "unknown service"),
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


@pytest.mark.parametrize(("change", "place", "problem"), [
    (lambda r: r["prompts"].update(connecting="Nous vous passons {lable}."),
     "prompts.connecting", "unknown placeholder(s) {lable} (this prompt offers: {label})"),
    (lambda r: r["prompts"].update(greeting="Bonjour {label}."),
     "prompts.greeting", "unknown placeholder(s) {label} (this prompt offers: none)"),
    (lambda r: r["prompts"].update(wait_position="Position {postion}, attente {wait}."),
     "prompts.wait_position", "unknown placeholder(s) {postion}"),
    (lambda r: r["services"]["crisis"].update(menu="Crise, tapez {key}."),
     "services.crisis.menu", "unknown placeholder(s) {key}"),
    (lambda r: r["answers"]["identity"].update(say="En mairie, {relay_name}."),
     "answers.identity.say.0", "unknown placeholder(s) {relay_name}"),
])
def test_placeholder_typos_are_caught(tmp_path: Path, change: Any, place: str,
                                      problem: str) -> None:
    """Every prompt's placeholders are checked against those its step supplies."""
    path = _broken(tmp_path, change)
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert any(p == place and problem in msg for p, msg in caught.value.problems), \
        caught.value.problems


def test_overflow_cycle_is_rejected(tmp_path: Path) -> None:
    """crisis -> immigration -> crisis is refused, naming the whole cycle once."""
    def cycle(raw: Any) -> None:
        raw["services"]["crisis"]["queue"]["overflow_to"] = "immigration"
        raw["services"]["immigration"]["queue"]["overflow_to"] = "crisis"

    with pytest.raises(FlowError) as caught:
        load_flow(_broken(tmp_path, cycle))
    cycles = [(p, m) for p, m in caught.value.problems if "overflow cycle" in m]
    assert cycles == [("services.crisis.queue.overflow_to",
                       "overflow cycle crisis -> immigration -> crisis: callers would go "
                       "round for ever")]


def test_longer_chain_without_cycle_is_accepted(tmp_path: Path) -> None:
    """crisis -> immigration -> reception is a chain, not a cycle: it loads."""
    path = _broken(tmp_path, lambda r: r["services"]["crisis"]["queue"].update(
        overflow_to="immigration"))
    assert load_flow(path).services["crisis"].queue.overflow_to == "immigration"


def test_relay_is_required(tmp_path: Path) -> None:
    """A flow without the relay service for deaf and hard-of-hearing callers is refused."""
    with pytest.raises(FlowError) as caught:
        load_flow(_broken(tmp_path, lambda r: r.pop("relay")))
    assert any(p == "relay" and "required" in m for p, m in caught.value.problems)


def test_answer_keyword_cannot_repeat_a_service_keyword(tmp_path: Path) -> None:
    """An answer's keyword already used by a service is refused (speech would be ambiguous)."""
    path = _broken(tmp_path, lambda r: r["answers"]["identity"]["keywords"].append("permis"))
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert ("answers.identity.keywords", "duplicate keyword 'permis' (also road_safety)") \
        in caught.value.problems


def test_flow_check_warns_of_an_over_long_menu(tmp_path: Path) -> None:
    """`ivr flow check` warns when the first menu takes longer to speak than the flow allows."""
    path = _broken(tmp_path, lambda r: r.update(menu_max_seconds=20))
    done = subprocess.run([sys.executable, "-m", "ivr", "flow", "check", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (f"{path}: warning: menu_max_seconds: the first menu takes 25.0 s to speak "
            "(greeting, notice, confidentiality and menu), more than 20 s") in done.stderr
    quiet = subprocess.run([sys.executable, "-m", "ivr", "flow", "check", str(LOIRE)],
                           capture_output=True, text=True, timeout=60)
    assert "warning" not in quiet.stderr


def test_loire_first_menu_within_25_seconds(flow: Flow) -> None:
    """Greeting, notice, confidentiality and menu of the Loire flow take at most 25 s."""
    assert spoken_seconds(main_menu(flow)) <= 25.0
    assert flow.menu_max_seconds == 25


def test_three_service_flow_checks_ok() -> None:
    """Another prefecture's flow with three services of its own names passes the check."""
    path = ROOT / "flows" / "exemple-trois-services.yaml"
    done = subprocess.run([sys.executable, "-m", "ivr", "flow", "check", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "3 services" in done.stdout
    assert "warning" not in done.stderr
