-- Secrets of the server itself (for example the key that hashes API tokens), each sealed with the
-- server's key ring (ZERODROP_SECRET_KEY): a copy of the database alone does not reveal them.
CREATE TABLE server_secret (
    name        text PRIMARY KEY,
    value       text NOT NULL,          -- zd1:<key id>:<sealed>
    created_at  timestamptz NOT NULL
);
