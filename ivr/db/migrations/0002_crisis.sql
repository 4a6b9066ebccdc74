-- The crisis announcement (Qual-e-Pref module 7): one current state and the log of changes.
CREATE TABLE crisis_state (
    id         integer PRIMARY KEY CHECK (id = 1),
    message    text,
    active     boolean NOT NULL DEFAULT false,
    until      timestamptz,
    changed_at timestamptz NOT NULL,
    changed_by text NOT NULL
);

CREATE TABLE crisis_changes (
    id         bigserial PRIMARY KEY,
    active     boolean NOT NULL,
    message    text,
    until      timestamptz,
    changed_at timestamptz NOT NULL,
    changed_by text NOT NULL
);
