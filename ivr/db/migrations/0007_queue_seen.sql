-- When Twilio last requested the caller's waitUrl (it does every cycle while they wait):
-- a queued caller not seen for long is gone even if their final callbacks were lost.
ALTER TABLE calls ADD COLUMN queue_seen_at timestamptz;
