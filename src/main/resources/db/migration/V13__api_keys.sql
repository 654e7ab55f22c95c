-- API keys and app-portal tokens: bearer tokens with a scope, an expiry and a last-used time, stored
-- only as hashes. New hashes are HMAC-SHA256 under the server's token pepper (server_secret
-- 'token-pepper'), so a copy of this table alone cannot be used to test guesses of a weak token;
-- rows written before carry a plain SHA-256 and are re-hashed at their first successful use.
ALTER TABLE api_token
    ADD COLUMN hash_scheme  text NOT NULL DEFAULT 'sha256',
    ADD COLUMN prefix       text,                          -- the token's first characters, to recognise it; never enough to use it
    ADD COLUMN kind         text NOT NULL DEFAULT 'key',   -- 'key' (made through /api/v1/keys or the configuration) or 'portal' (app-portal access)
    ADD COLUMN app_id       text,                          -- the one application it may use; NULL: server-wide (admin)
    ADD COLUMN read_only    boolean NOT NULL DEFAULT false,
    ADD COLUMN session_id   text,                          -- AppPortalAccessIn.sessionId, for expire-all's sessionIds
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN last_used_at timestamptz,                   -- to the minute: written at most once a minute per key and node
    ADD COLUMN revoked_at   timestamptz;

ALTER TABLE api_token ADD CONSTRAINT api_token_hash_scheme CHECK (hash_scheme IN ('sha256', 'hmac-sha256'));
ALTER TABLE api_token ADD CONSTRAINT api_token_kind CHECK (kind IN ('key', 'portal'));

-- expire-all and the key listing filter by application.
CREATE INDEX api_token_app ON api_token (app_id, id) WHERE app_id IS NOT NULL;
