-- The console: who may sign in (an Argon2 hash), with which role, their sessions and the
-- failed sign-ins that throttle guessing. All in PostgreSQL so any instance serves anyone.
ALTER TABLE agents
    ADD COLUMN password_hash text,
    ADD COLUMN role text NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'manager'));

CREATE TABLE console_sessions (
    token_hash text PRIMARY KEY,          -- sha256 of the cookie's value, never the value
    agent_id   integer NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_agent ON console_sessions (agent_id);

CREATE TABLE console_login_failures (
    id      bigserial PRIMARY KEY,
    login   text NOT NULL,
    address text NOT NULL,
    at      timestamptz NOT NULL
);
CREATE INDEX console_login_failures_login ON console_login_failures (login, at);
CREATE INDEX console_login_failures_address ON console_login_failures (address, at);
