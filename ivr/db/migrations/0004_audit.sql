-- Who changed what and when, whatever the surface (CLI, admin API, console).
CREATE TABLE audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    surface text NOT NULL CHECK (surface IN ('cli', 'admin_api', 'console', 'system')),
    action  text NOT NULL,
    target  text,
    detail  jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Every status an agent went through, at the app's clock (agents.updated_at), whatever
-- code path changed it: staffing reports compare who was signed in with what was needed.
CREATE TABLE agent_status_history (
    id       bigserial PRIMARY KEY,
    agent_id integer NOT NULL,
    status   text NOT NULL,
    at       timestamptz NOT NULL
);
CREATE INDEX agent_status_history_at ON agent_status_history (at);

CREATE FUNCTION agent_status_history_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO agent_status_history (agent_id, status, at)
        VALUES (NEW.id, NEW.status, NEW.updated_at);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER agents_status_history AFTER INSERT OR UPDATE OF status ON agents
    FOR EACH ROW EXECUTE FUNCTION agent_status_history_log();
