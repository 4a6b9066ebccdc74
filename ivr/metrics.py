"""Prometheus metrics on the app's own registry; live gauges are filled from PostgreSQL."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ivr.flow.survey import KEYS as SURVEY_ANSWERS

WAIT_BUCKETS = (5, 10, 15, 20, 25, 30, 45, 60, 90, 120, 180, 300)
RING_BUCKETS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
OUTCOMES = ("answered", "abandoned", "unanswered", "closed", "self_served", "menu_hangup",
            "answered_callback", "callback_failed")
# Callbacks by result (issue 16): booked, reached, a try missed (retry), failed, withdrawn.
CALLBACK_RESULTS = ("requested", "answered", "retry", "failed", "canceled")
# Every label value the handlers use, so each series is exported at 0 from start-up.
INPUT_KINDS = ("dtmf", "speech")
FAILURE_REASONS = ("invalid_key", "no_input", "no_match", "ambiguous", "unconfirmed")
CLOSED_REASONS = ("hours", "holiday", "closure")
OFFER_RESULTS = ("placed", "error", "answered", "no_caller", "no-answer", "busy", "failed",
                 "canceled")
# What a ring is, in the help of every ring metric (design.md, "Words we use"; ivr/rings.py).
RING_MEANING = ("With ringback, a ring is a ringback cycle the caller heard begin (waitUrl round "
                "trips delay each one); with hold music, a ring is a slice of the queue wait as "
                "long as a ring cycle (IVR_RING_CYCLE_SECONDS).")
# The signature guard's reasons, then ivr/twilio_form.py's (strict reading of the form).
REJECT_REASONS = ("too_large", "malformed", "missing_signature", "validator_error",
                  "bad_signature", "not_utf8", "repeated_form_key", "repeated_query_key",
                  "content_type", "charset", "control_character")


class Metrics:
    """Every metric the server exports, registered on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls = Counter("ivr_calls", "Calls ended, by requested service and outcome.",
                             ["service", "outcome"], registry=r)
        self.queue_wait = Histogram(
            "ivr_queue_wait_seconds", "Queue wait of answered calls, from queue entry to pickup.",
            ["service"], buckets=WAIT_BUCKETS, registry=r)
        self.pickup_rings = Histogram(
            "ivr_pickup_rings", "Ring during which answered calls were picked up. " + RING_MEANING,
            ["service"], buckets=RING_BUCKETS, registry=r)
        self.before_target = Counter(
            "ivr_answered_before_target",
            "Answered calls picked up before the target ring (IVR_TARGET_RING). " + RING_MEANING,
            ["service"], registry=r)
        self.abandoned_wait = Histogram(
            "ivr_abandoned_wait_seconds", "Queue wait of callers who hung up while waiting.",
            ["service"], buckets=WAIT_BUCKETS, registry=r)
        self.time_to_human = Histogram(
            "ivr_time_to_human_seconds", "From the call's arrival to a human answering.",
            ["service"], buckets=(*WAIT_BUCKETS, 600), registry=r)
        self.menu_choices = Counter("ivr_menu_choices", "Menu choices by service and input kind.",
                                    ["service", "input"], registry=r)
        self.menu_failures = Counter("ivr_menu_failures", "Menu inputs not understood, by reason.",
                                     ["reason"], registry=r)
        self.closed_calls = Counter("ivr_closed_calls", "Calls that arrived while closed.",
                                    ["reason"], registry=r)
        self.crisis_calls = Counter("ivr_crisis_calls", "Calls that heard the crisis announcement.",
                                    registry=r)
        self.offers = Counter("ivr_offers", "Offers of waiting calls to agents, by result.",
                              ["service", "result"], registry=r)
        self.webhook_duration = Histogram(
            "ivr_webhook_duration_seconds", "Time to answer a Twilio webhook.", ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)
        self.webhook_rejected = Counter("ivr_webhook_rejected", "Webhooks refused, by reason.",
                                        ["reason"], registry=r)
        self.webhook_errors = Counter("ivr_webhook_errors",
                                      "Webhooks answered with fallback TwiML after an error.",
                                      ["route"], registry=r)
        self.database_errors = Counter("ivr_database_errors", "Database errors seen by handlers.",
                                       registry=r)
        self.crisis_mode = Gauge("ivr_crisis_mode", "1 while the crisis announcement is on.",
                                 registry=r)
        self.callers_waiting = Gauge("ivr_callers_waiting", "Callers waiting now, per service.",
                                     ["service"], registry=r)
        self.longest_wait = Gauge("ivr_longest_wait_seconds",
                                  "Longest current queue wait, per service.", ["service"],
                                  registry=r)
        self.agents = Gauge("ivr_agents", "Agents per service and status.", ["service", "status"],
                            registry=r)
        self.live_up = Gauge("ivr_live_metrics_up",
                             "1 when the last read of the live gauges from PostgreSQL worked.",
                             registry=r)
        self.live_reads = Counter("ivr_live_metrics_reads",
                                  "Reads of the live gauges from PostgreSQL (at most one per "
                                  "interval, shared by every scrape).", registry=r)
        self.transfers = Counter("ivr_transfers", "Answered callers sent to another service.",
                                 ["from_service", "to_service"], registry=r)
        self.transfer_wait = Histogram(
            "ivr_transfer_wait_seconds",
            "Second wait of transferred callers, from the transfer to the next pickup.",
            ["service", "outcome"], buckets=WAIT_BUCKETS, registry=r)
        self.survey_asked = Counter("ivr_survey_asked", "Callers asked the post-call survey.",
                                    ["service"], registry=r)
        self.survey_answers = Counter("ivr_survey_answers", "Post-call survey answers.",
                                      ["service", "question", "answer"], registry=r)

        self.callbacks = Counter("ivr_callbacks", "Callbacks by service and result.",
                                 ["service", "result"], registry=r)
        self.callbacks_pending = Gauge("ivr_callbacks_pending",
                                       "Callbacks waiting for their turn, per service.",
                                       ["service"], registry=r)

    def _prime_after_pickup(self, service: str, others: list[str]) -> None:
        """Transfers from `service` and its survey answers, at 0 (issue 13's series)."""
        for other in others:
            self.transfers.labels(service, other)
        for outcome in ("answered", "abandoned"):
            self.transfer_wait.labels(service, outcome)
        self.survey_asked.labels(service)
        for question, answers in SURVEY_ANSWERS.items():
            for answer in sorted(set(answers.values())):
                self.survey_answers.labels(service, question, answer)

    def prime(self, services: list[str], routes: list[str] | None = None) -> None:
        """Export every series at 0, so rate() and increase() see the first event of each."""
        for service in services:
            for outcome in OUTCOMES:
                self.calls.labels(service, outcome)
            if service == "none":
                # Calls that chose nothing never wait in a queue: no wait, ring, choice or
                # offer series (a share at 0 for "none" would read as 0 % before the target).
                continue
            for histogram in (self.queue_wait, self.pickup_rings, self.abandoned_wait,
                              self.time_to_human):
                histogram.labels(service)
            self.before_target.labels(service)
            for kind in INPUT_KINDS:
                self.menu_choices.labels(service, kind)
            for result in OFFER_RESULTS:
                self.offers.labels(service, result)
            self._prime_after_pickup(service, [s for s in services if s not in ("none", service)])
            for result in CALLBACK_RESULTS:
                self.callbacks.labels(service, result)
            self.callbacks_pending.labels(service)
        for reason in FAILURE_REASONS:
            self.menu_failures.labels(reason)
        for reason in CLOSED_REASONS:
            self.closed_calls.labels(reason)
        for reason in REJECT_REASONS:
            self.webhook_rejected.labels(reason)
        for route in routes or ():
            self.webhook_errors.labels(route)
