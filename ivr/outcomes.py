"""Counting an ended call in the metrics, exactly once (only the write that ended it calls)."""

from __future__ import annotations

from ivr.metrics import Metrics
from ivr.store.calls import Ended


def count(metrics: Metrics, ended: Ended | None) -> None:
    """Add an ended call to the counters and histograms."""
    if ended is None:
        return
    metrics.calls.labels(ended.service, ended.outcome).inc()
    # A callback's wait (to the caller answering it) counts in seconds and rings like any.
    if ended.outcome in ("answered", "answered_callback") and ended.wait_seconds is not None:
        metrics.queue_wait.labels(ended.service).observe(ended.wait_seconds)
        metrics.pickup_rings.labels(ended.service).observe(ended.rings or 1)
        if ended.target_met:
            metrics.before_target.labels(ended.service).inc()
        if ended.time_to_human is not None:
            metrics.time_to_human.labels(ended.service).observe(ended.time_to_human)
    elif ended.outcome == "abandoned" and ended.wait_seconds is not None:
        metrics.abandoned_wait.labels(ended.service).observe(ended.wait_seconds)
