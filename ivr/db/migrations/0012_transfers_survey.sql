-- Transfers of answered callers to another service, and the post-call survey's answers.
CREATE TABLE transfers (
    id            bigserial PRIMARY KEY,
    call_sid      text NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    from_service  text NOT NULL,
    to_service    text NOT NULL,
    by_whom       text NOT NULL,
    at            timestamptz NOT NULL,
    -- The second wait: from the transfer to the next pickup (or the caller hanging up).
    outcome       text CHECK (outcome IN ('answered', 'abandoned')),
    ended_at      timestamptz,
    wait_seconds  double precision CHECK (wait_seconds >= 0),
    rings         integer CHECK (rings >= 1)
);
CREATE INDEX transfers_call ON transfers (call_sid);
CREATE INDEX transfers_at ON transfers (at);
-- One transfer in progress per call at a time.
CREATE UNIQUE INDEX transfers_one_open ON transfers (call_sid) WHERE outcome IS NULL;

CREATE TABLE survey_answers (
    call_sid  text NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    question  text NOT NULL,
    service   text NOT NULL,
    answer    text NOT NULL,
    at        timestamptz NOT NULL,
    -- One answer per call and question, whatever Twilio retries.
    PRIMARY KEY (call_sid, question)
);
CREATE INDEX survey_answers_at ON survey_answers (at);
