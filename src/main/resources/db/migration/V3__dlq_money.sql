-- Dead-letter queue: helpers for money at risk, and the dead time of deliveries that died before V2.

-- Deliveries that went dead or were discarded before state_changed_at existed: their last update is
-- when that happened (nothing updates a dead or discarded delivery but an operator's action).
UPDATE delivery SET state_changed_at = updated_at
 WHERE state IN ('dead', 'discarded') AND state_changed_at IS NULL;

-- An RFC 6901 JSON pointer ('/data/amount') as the text[] path of the #>> operator ({data,amount}).
-- '~1' stands for '/' and '~0' for '~', decoded in that order.
CREATE FUNCTION zd_pointer_path(pointer text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT coalesce(array_agg(replace(replace(t.token, '~1', '/'), '~0', '~') ORDER BY t.n), '{}')
      FROM unnest(string_to_array(substr(pointer, 2), '/')) WITH ORDINALITY AS t(token, n)
$$;

-- A payload as jsonb, or NULL when it is not JSON that PostgreSQL accepts.
-- Payloads are stored as received and may hold escapes that jsonb refuses (\u0000, a lone
-- surrogate); one such payload must not fail a whole sum. The exception block costs a
-- subtransaction, so callers use it only for payloads that contain a '\u' escape.
CREATE FUNCTION zd_payload_jsonb(payload bytea) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT AS $$
BEGIN
    RETURN convert_from(payload, 'UTF8')::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- Counts and sums by state, per application, without reading the whole delivery table: dead has
-- delivery_dead (V2) and pending has delivery_due (V1). Held and discarded deliveries are a small
-- part of the table, so their partial indexes are small and cost nothing on the dispatcher's path.
CREATE INDEX delivery_held ON delivery (app_id) WHERE state = 'held';
CREATE INDEX delivery_discarded ON delivery (app_id, id) WHERE state = 'discarded';
