"""Erlang C and Erlang A: published values, limits, monotonicity and the staffing search."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from ivr.staffing.erlang import (
    StaffingError,
    erlang_a_performance,
    erlang_c,
    erlang_c_performance,
    staff,
)


def test_erlang_c_call_centre_helper_example() -> None:
    """Call Centre Helper, "Erlang C Formula – Made Simple With an Easy Worked Example".

    100 calls per 30 minutes, 180 s handling time (10 erlangs), answer within 20 s:
    11 agents give a probability of waiting of 68.21 % and a service level of 39 %;
    14 agents reach 88.84 %, the first count above the 80 % asked for.
    """
    eleven = erlang_c_performance(200, 180, 11, 20)
    assert eleven.probability_of_waiting == pytest.approx(0.6821, abs=5e-5)
    assert eleven.share_before_target == pytest.approx(0.3896, abs=5e-4)
    assert eleven.occupancy == pytest.approx(10 / 11)
    fourteen = erlang_c_performance(200, 180, 14, 20)
    assert fourteen.share_before_target == pytest.approx(0.8884, abs=5e-5)
    assert erlang_c_performance(200, 180, 13, 20).share_before_target < 0.80
    assert staff(200, 180, 20, 0.80).agents == 14


def test_erlang_c_westbay_example() -> None:
    """The Erlang-C formula worked step by step (mitan.co.uk "Erlang-C" page).

    360 calls per half hour, 4 minutes per call (48 erlangs), 55 agents, 15 s target:
    probability of waiting 0.2387, average speed of answer 8.18 s, service level 84.6 %.
    """
    result = erlang_c_performance(720, 240, 55, 15)
    assert result.probability_of_waiting == pytest.approx(0.2387, abs=5e-5)
    assert result.average_wait_seconds == pytest.approx(8.18, abs=5e-3)
    assert result.share_before_target == pytest.approx(0.846, abs=5e-4)


@pytest.mark.parametrize(("agents", "load"), [(1, 0.5), (3, 2.0), (10, 6.0), (25, 20.5)])
def test_erlang_c_matches_the_factorial_formula(agents: int, load: float) -> None:
    """The stable recursion equals the textbook factorial formula computed exactly."""
    a = Fraction(load)
    top = a ** agents / math.factorial(agents) * Fraction(agents) / (agents - a)
    exact = top / (sum(a ** k / math.factorial(k) for k in range(agents)) + top)
    assert erlang_c(agents, load) == pytest.approx(float(exact), rel=1e-12)


def test_two_hundred_agents_do_not_overflow() -> None:
    """200 agents (200! overflows a float): Erlang C and Erlang A give finite answers."""
    c = erlang_c_performance(2700, 240, 200, 20)
    a = erlang_a_performance(2700, 240, 120, 200, 20)
    for result in (c, a):
        assert 0 < result.probability_of_waiting < 1
        assert 0 < result.share_before_target < 1
        assert math.isfinite(result.average_wait_seconds)


@pytest.mark.parametrize(("calls", "handle", "agents"), [(200, 180, 11), (60, 240, 5),
                                                          (720, 240, 50)])
def test_erlang_a_tends_to_erlang_c_as_patience_grows(calls: float, handle: float,
                                                      agents: int) -> None:
    """With ever more patient callers Erlang A's figures converge to Erlang C's."""
    c = erlang_c_performance(calls, handle, agents, 20)
    gaps = []
    for patience in (60.0, 600.0, 6_000.0, 60_000.0, 600_000.0, 6_000_000.0):
        a = erlang_a_performance(calls, handle, patience, agents, 20)
        gaps.append(abs(a.share_before_target - c.share_before_target))
    assert gaps == sorted(gaps, reverse=True)
    final = erlang_a_performance(calls, handle, 6_000_000.0, agents, 20)
    assert final.share_before_target == pytest.approx(c.share_before_target, abs=2e-3)
    assert final.probability_of_waiting == pytest.approx(c.probability_of_waiting, abs=2e-3)
    assert final.average_wait_seconds == pytest.approx(c.average_wait_seconds, rel=1e-2)
    assert final.abandonment < 1e-3


def test_erlang_a_against_a_simulation() -> None:
    """M/M/11+M, 200 calls/h, 180 s, patience 60 s: a 400,000-call FCFS simulation (seeded,
    run once by hand) answered 79.66 % within 20 s and lost 11.14 % to abandonment."""
    result = erlang_a_performance(200, 180, 60, 11, 20)
    assert result.share_before_target == pytest.approx(0.7966, abs=2e-3)
    assert result.abandonment == pytest.approx(0.1114, abs=2e-3)


@pytest.mark.parametrize("patience", [None, 30.0, 90.0, 600.0])
def test_share_grows_and_waits_shrink_with_agents(patience: float | None) -> None:
    """More agents never lower the share answered in time nor raise the wait."""
    shares, waits = [], []
    for agents in range(1, 60):
        if patience is None:
            result = erlang_c_performance(500, 240, agents, 20)
        else:
            result = erlang_a_performance(500, 240, patience, agents, 20)
        shares.append(result.share_before_target)
        waits.append(result.average_wait_seconds)
    assert shares == sorted(shares)
    assert waits == sorted(waits, reverse=True)
    assert shares[-1] > 0.99


@pytest.mark.parametrize("patience", [None, 60.0])
def test_staff_returns_the_fewest_agents(patience: float | None) -> None:
    """The search's answer reaches the share and one agent fewer does not."""
    found = staff(60, 240, 20, 0.85, patience)
    assert found.share_before_target >= 0.85
    if patience is None:
        fewer = erlang_c_performance(60, 240, found.agents - 1, 20)
    else:
        fewer = erlang_a_performance(60, 240, patience, found.agents - 1, 20)
    assert fewer.share_before_target < 0.85
    assert found.model == ("erlang-c" if patience is None else "erlang-a")


def test_no_calls_need_no_agents() -> None:
    """An hour without calls needs nobody."""
    assert staff(0, 240, 20, 0.85).agents == 0


@pytest.mark.parametrize(("calls", "handle", "share"), [(-1, 240, 0.8), (60, 0, 0.8),
                                                        (60, 240, 1.0), (60, 240, 0.0)])
def test_bad_inputs_are_refused(calls: float, handle: float, share: float) -> None:
    """Negative calls, no handle time, or a share of 0 or 1 are errors, not answers."""
    with pytest.raises(StaffingError):
        staff(calls, handle, 20, share)
