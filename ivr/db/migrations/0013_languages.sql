-- The language each caller chose in the menu (flows' `languages`), shown to standardists,
-- and the crisis announcement's optional texts in those languages (code -> text).
ALTER TABLE calls ADD COLUMN language text NOT NULL DEFAULT 'fr';
ALTER TABLE crisis_state ADD COLUMN translated jsonb NOT NULL DEFAULT '{}'::jsonb;
