-- The hot tables check no foreign keys. Each check is a trigger per inserted row that locks the
-- parent row FOR KEY SHARE; every ingest transaction locked the same endpoint and application rows,
-- which PostgreSQL then tracks as shared multixacts: measurable CPU on the busiest path. Nothing
-- ever deletes an application, endpoint or message row (they are soft-deleted, and an expunged
-- message keeps its row), and deliveries are only created by joining the endpoint table, so the
-- references cannot dangle.
ALTER TABLE delivery DROP CONSTRAINT delivery_msg_id_fkey;
ALTER TABLE delivery DROP CONSTRAINT delivery_endpoint_id_fkey;
ALTER TABLE message DROP CONSTRAINT message_app_id_fkey;
