-- The message an idempotent response created: when its content is expunged (or expires), the stored
-- response, which repeats the payload, loses it too.
ALTER TABLE idempotency_key ADD COLUMN msg_id text;
CREATE INDEX idempotency_key_msg ON idempotency_key (msg_id) WHERE msg_id IS NOT NULL;
