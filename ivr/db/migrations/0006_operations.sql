-- Removing an agent retires them: their offers, status history and audit entries stay.
ALTER TABLE agents ADD COLUMN removed_at timestamptz;
ALTER TABLE agents DROP CONSTRAINT agents_contact_key;
-- A retired agent's number can be given to a new agent.
CREATE UNIQUE INDEX agents_contact_current ON agents (contact) WHERE removed_at IS NULL;
-- No cascade: deleting an agent row can never erase the offers made to them.
ALTER TABLE offers DROP CONSTRAINT offers_agent_id_fkey;
ALTER TABLE offers ADD CONSTRAINT offers_agent_id_fkey
    FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE RESTRICT;
