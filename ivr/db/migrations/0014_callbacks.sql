-- Callbacks that keep the caller's place (issue 16). A caller who pressed 1 in the wait
-- leaves Twilio's queue; their call waits in state 'callback' and keeps its first queued_at,
-- by which the callback competes with the service's queued callers for the next free agent.
ALTER TABLE calls DROP CONSTRAINT calls_state_check;
ALTER TABLE calls ADD CONSTRAINT calls_state_check
    CHECK (state IN ('menu', 'routed', 'queued', 'callback', 'answered', 'ended'));
ALTER TABLE calls DROP CONSTRAINT calls_outcome_check;
ALTER TABLE calls ADD CONSTRAINT calls_outcome_check
    CHECK (outcome IN ('answered', 'abandoned', 'unanswered', 'closed', 'self_served',
                       'menu_hangup', 'answered_callback', 'callback_failed'));

CREATE TABLE callbacks (
    id           bigserial PRIMARY KEY,
    call_sid     text NOT NULL UNIQUE REFERENCES calls (call_sid) ON DELETE CASCADE,
    service      text NOT NULL,
    language     text NOT NULL DEFAULT 'fr',
    -- The caller's first queue entry: the place the callback keeps.
    queued_at    timestamptz NOT NULL,
    -- 'choosing': the caller is confirming the number; 'waiting': its turn has not come
    -- (or a try is under way / due again); then 'done', 'failed' or 'canceled'.
    state        text NOT NULL DEFAULT 'choosing'
                 CHECK (state IN ('choosing', 'waiting', 'done', 'failed', 'canceled')),
    -- Fernet token of the E.164 number, erased (NULL) once the callback ends.
    number_enc   bytea,
    attempts     integer NOT NULL DEFAULT 0,
    next_try_at  timestamptz,
    offer_id     bigint REFERENCES offers (id) ON DELETE SET NULL,
    requested_at timestamptz NOT NULL,
    ended_at     timestamptz,
    CHECK (state IN ('choosing', 'waiting') OR number_enc IS NULL)
);
CREATE INDEX callbacks_waiting ON callbacks (service, queued_at) WHERE state = 'waiting';
