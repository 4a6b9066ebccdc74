"""Erlang C and Erlang A: the share of queued calls answered within t seconds for n agents.

Pure math, no I/O. Erlang C (M/M/n) assumes callers never hang up; Erlang A (M/M/n+M)
gives callers an exponential patience, as on a switchboard where people give up. Both are
computed without factorials (Erlang B recursion, or the birth-death chain in log space),
so hundreds of agents do not overflow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Literal

Model = Literal["erlang-c", "erlang-a"]
# Tail mass below e^-40 (4e-18) of the largest state is left out of the Erlang A chain.
_LOG_TAIL = 40.0
_MAX_STATES = 2_000_000


class StaffingError(ValueError):
    """Inputs the models cannot work with (negative rates, a share of 1, ...)."""


@dataclass(frozen=True)
class Performance:
    """What n agents give for one arrival rate and handle time."""

    agents: int
    share_before_target: float
    probability_of_waiting: float
    average_wait_seconds: float
    occupancy: float
    abandonment: float
    model: Model

    def as_dict(self) -> dict[str, object]:
        """The JSON form (`ivr staffing --format json`)."""
        return asdict(self)


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of `agents` servers offered `load` erlangs (stable recursion)."""
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c(agents: int, load: float) -> float:
    """Probability that a call waits (1 when the agents cannot keep up with the load)."""
    if load <= 0:
        return 0.0
    if agents <= load:
        return 1.0
    blocking = erlang_b(agents, load)
    return agents * blocking / (agents - load * (1 - blocking))


def _check(calls_per_hour: float, handle_seconds: float, answer_within: float) -> None:
    if not calls_per_hour >= 0 or math.isinf(calls_per_hour):
        raise StaffingError("calls per hour must be a number, 0 or more")
    if not handle_seconds > 0 or math.isinf(handle_seconds):
        raise StaffingError("handle time must be more than 0 seconds")
    if not answer_within >= 0:
        raise StaffingError("answer-within must be 0 seconds or more")


def erlang_c_performance(calls_per_hour: float, handle_seconds: float, agents: int,
                         answer_within: float) -> Performance:
    """Erlang C: share answered within `answer_within` s, P(wait), mean wait, occupancy."""
    _check(calls_per_hour, handle_seconds, answer_within)
    load = calls_per_hour / 3600 * handle_seconds
    if load == 0:
        return Performance(agents, 1.0, 0.0, 0.0, 0.0, 0.0, "erlang-c")
    if agents <= load:
        # The queue grows without end: nobody is answered within any bound.
        return Performance(agents, 0.0, 1.0, math.inf, 1.0, 0.0, "erlang-c")
    waits = erlang_c(agents, load)
    drain = (agents - load) / handle_seconds  # rate at which a queue empties, per second
    share = 1 - waits * math.exp(-drain * answer_within)
    return Performance(agents, share, waits, waits / drain, load / agents, 0.0, "erlang-c")


def _stationary(arrival: float, service: float, abandon: float, agents: int) -> list[float]:
    """The M/M/n+M chain's stationary distribution, truncated where its tail is negligible."""
    logs = [0.0]
    top = 0.0
    k = 0
    while True:
        k += 1
        out = min(k, agents) * service + max(k - agents, 0) * abandon
        logs.append(logs[-1] + math.log(arrival) - math.log(out))
        top = max(top, logs[-1])
        ratio = arrival / out
        if ratio < 1 and logs[-1] - math.log1p(-ratio) < top - _LOG_TAIL:
            break
        if k >= _MAX_STATES:
            raise StaffingError("patience too long for Erlang A: use Erlang C")
    weights = [math.exp(v - top) for v in logs]
    total = math.fsum(weights)
    return [w / total for w in weights]


def _served_within(ahead: list[float], agents: int, service: float, abandon: float,
                   within: float) -> float:
    """P(a waiting caller is answered within `within` s), by uniformization.

    `ahead[j]` is the probability of arriving with j callers ahead (and all agents busy).
    With j ahead, the queue moves at rate n*mu + j*theta; the caller leaves at rate theta.
    """
    if within <= 0 or not ahead or agents == 0:
        return 0.0
    top_rate = agents * service + len(ahead) * abandon
    horizon = top_rate * within
    steps = int(horizon + 10 * math.sqrt(horizon) + 25)
    mass = list(ahead)
    served = 0.0
    total = 0.0
    for m in range(steps + 1):
        weight = math.exp(-horizon + m * math.log(horizon) - math.lgamma(m + 1))
        total += weight * served
        moved = [0.0] * len(mass)
        for j, p in enumerate(mass):
            if p == 0.0:
                continue
            forward = (agents * service + j * abandon) / top_rate
            stay = 1 - forward - abandon / top_rate
            moved[j] += p * stay
            if j == 0:
                served += p * forward
            else:
                moved[j - 1] += p * forward
        mass = moved
    return total


def erlang_a_performance(calls_per_hour: float, handle_seconds: float, patience_seconds: float,
                         agents: int, answer_within: float) -> Performance:
    """Erlang A: like Erlang C, but callers hang up after an exponential patience."""
    _check(calls_per_hour, handle_seconds, answer_within)
    if not patience_seconds > 0:
        raise StaffingError("patience must be more than 0 seconds")
    if calls_per_hour == 0:
        return Performance(agents, 1.0, 0.0, 0.0, 0.0, 0.0, "erlang-a")
    arrival = calls_per_hour / 3600
    service = 1 / handle_seconds
    abandon = 0.0 if math.isinf(patience_seconds) else 1 / patience_seconds
    if abandon == 0.0:
        return replace(erlang_c_performance(calls_per_hour, handle_seconds, agents,
                                            answer_within), model="erlang-a")
    states = _stationary(arrival, service, abandon, agents)
    waits = math.fsum(states[agents:])
    queued = math.fsum((k - agents) * p for k, p in enumerate(states) if k > agents)
    busy = math.fsum(min(k, agents) * p for k, p in enumerate(states))
    share = math.fsum(states[:agents]) + _served_within(
        states[agents:], agents, service, abandon, answer_within)
    return Performance(
        agents=agents, share_before_target=min(share, 1.0), probability_of_waiting=waits,
        average_wait_seconds=queued / arrival,
        occupancy=busy / agents if agents else 0.0,
        abandonment=abandon * queued / arrival, model="erlang-a")


def performance(calls_per_hour: float, handle_seconds: float, agents: int,
                answer_within: float, patience_seconds: float | None = None) -> Performance:
    """Erlang A when a patience is given, Erlang C otherwise."""
    if patience_seconds is None:
        return erlang_c_performance(calls_per_hour, handle_seconds, agents, answer_within)
    return erlang_a_performance(calls_per_hour, handle_seconds, patience_seconds, agents,
                                answer_within)


def staff(calls_per_hour: float, handle_seconds: float, answer_within: float, share: float,
          patience_seconds: float | None = None, max_agents: int = 100_000) -> Performance:
    """The fewest agents whose share answered within `answer_within` s reaches `share`."""
    if not 0 < share < 1:
        raise StaffingError("the share to reach must be between 0 and 1 (exclusive)")

    def reaches(agents: int) -> Performance | None:
        result = performance(calls_per_hour, handle_seconds, agents, answer_within,
                             patience_seconds)
        return result if result.share_before_target >= share else None

    if (found := reaches(0)) is not None:
        return found
    # Double until the share is reached, then bisect: the share grows with the agents.
    low, high = 0, max(1, math.ceil(calls_per_hour / 3600 * handle_seconds))
    while (best := reaches(high)) is None:
        if high >= max_agents:
            raise StaffingError(f"more than {max_agents} agents would be needed")
        low, high = high, min(high * 2, max_agents)
    while high - low > 1:
        middle = (low + high) // 2
        if (candidate := reaches(middle)) is None:
            low = middle
        else:
            high, best = middle, candidate
    return best
