"""`ivr staffing` from figures: the JSON the issue specifies, defaults taken from settings."""

from __future__ import annotations

import json

import pytest

from ivr.cli import main
from ivr.staffing.erlang import erlang_a_performance, erlang_c_performance

KEYS = {"agents", "share_before_target", "probability_of_waiting", "average_wait_seconds",
        "occupancy", "model"}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["staffing", *args, "--format", "json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_erlang_c_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    """60 calls/h of 240 s, 85 % within 20 s: 7 agents by Erlang C (6 reach only 76 %)."""
    result = _run(capsys, "--calls-per-hour", "60", "--handle-seconds", "240")
    assert set(result) >= KEYS
    assert result["model"] == "erlang-c"
    assert result["agents"] == 7
    assert result["share_before_target"] == pytest.approx(
        erlang_c_performance(60, 240, 7, 20).share_before_target)
    assert erlang_c_performance(60, 240, 6, 20).share_before_target < 0.85
    assert result["occupancy"] == pytest.approx(4 / 7)


def test_patience_switches_to_erlang_a(capsys: pytest.CaptureFixture[str]) -> None:
    """With --patience-seconds the answer comes from Erlang A, abandonment included."""
    result = _run(capsys, "--calls-per-hour", "60", "--handle-seconds", "240",
                  "--patience-seconds", "60", "--share", "0.8")
    assert result["model"] == "erlang-a"
    agents = result["agents"]
    assert isinstance(agents, int)
    assert erlang_a_performance(60, 240, 60, agents, 20).share_before_target >= 0.8
    assert erlang_a_performance(60, 240, 60, agents - 1, 20).share_before_target < 0.8
    assert 0 < float(str(result["abandonment"])) < 0.2


def test_answer_within_follows_the_target_ring(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """--answer-within defaults to the seconds before the target ring: ring 3 -> 10 s."""
    figures = ("--calls-per-hour", "200", "--handle-seconds", "180", "--share", "0.88")
    assert _run(capsys, *figures)["agents"] == 14  # ring 5: within 20 s
    monkeypatch.setenv("IVR_TARGET_RING", "3")
    default = _run(capsys, *figures)
    assert default == _run(capsys, *figures, "--answer-within", "10")
    assert default["agents"] == 15


def test_missing_figures_are_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Neither figures nor a period: exit status 2 and a sentence saying what to give."""
    assert main(["staffing", "--calls-per-hour", "60"]) == 2
    assert "--handle-seconds" in capsys.readouterr().err
    assert main(["staffing", "--calls-per-hour", "60", "--handle-seconds", "240",
                 "--share", "1"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
