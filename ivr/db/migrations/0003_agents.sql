-- Standardists and the offers of waiting calls made to them.
CREATE TABLE agents (
    id            serial PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    contact       text NOT NULL UNIQUE,
    services      text[] NOT NULL CHECK (cardinality(services) >= 1),
    status        text NOT NULL DEFAULT 'offline'
                  CHECK (status IN ('available', 'busy', 'wrap_up', 'offline')),
    idle_since    timestamptz,
    wrap_up_until timestamptz,
    note          text,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE offers (
    id              bigserial PRIMARY KEY,
    service         text NOT NULL,
    agent_id        integer NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    for_call_sid    text NOT NULL REFERENCES calls (call_sid),
    agent_call_sid  text UNIQUE,
    state           text NOT NULL DEFAULT 'ringing'
                    CHECK (state IN ('ringing', 'answered', 'failed', 'canceled', 'expired',
                                     'completed')),
    result          text,
    picked_call_sid text,
    created_at      timestamptz NOT NULL,
    answered_at     timestamptz,
    ended_at        timestamptz
);
CREATE INDEX offers_ringing ON offers (service) WHERE state = 'ringing';
-- One live offer per agent at a time, whatever the instance that made it.
CREATE UNIQUE INDEX offers_one_live_per_agent ON offers (agent_id)
    WHERE state IN ('ringing', 'answered');
