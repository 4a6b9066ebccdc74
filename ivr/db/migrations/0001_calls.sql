-- One row per call (CallSid), and an append-only log of what happened to it.
CREATE TABLE calls (
    call_sid          text PRIMARY KEY,
    caller_hash       text,
    called            text,
    arrived_at        timestamptz NOT NULL,
    state             text NOT NULL DEFAULT 'menu'
                      CHECK (state IN ('menu', 'routed', 'queued', 'answered', 'ended')),
    requested_service text,
    service           text,
    queued_at         timestamptz,
    answered_at       timestamptz,
    ended_at          timestamptz,
    outcome           text CHECK (outcome IN ('answered', 'abandoned', 'unanswered', 'closed',
                                              'self_served', 'menu_hangup')),
    wait_seconds      double precision CHECK (wait_seconds >= 0),
    rings             integer CHECK (rings >= 1),
    target_met        boolean,
    closed_reason     text,
    crisis            boolean NOT NULL DEFAULT false,
    overflow_reason   text
);
CREATE INDEX calls_waiting ON calls (service, queued_at) WHERE state = 'queued';
CREATE INDEX calls_arrived ON calls (arrived_at);

CREATE TABLE call_events (
    id         bigserial PRIMARY KEY,
    call_sid   text NOT NULL REFERENCES calls (call_sid),
    event_key  text NOT NULL,
    kind       text NOT NULL,
    at         timestamptz NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (call_sid, event_key)
);
