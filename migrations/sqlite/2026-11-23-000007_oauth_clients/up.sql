-- OAuth 2.0 clients of a tenant (the seeds' Client): they trade their id and secret for a
-- short-lived access token accepted on the tenant's SCIM endpoint (client credentials grant).
CREATE TABLE oauth_clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- SHA-256 of the secret; the secret is shown once, when the client is made.
    secret_hash TEXT NOT NULL,
    -- Space-separated scopes the client may ask for.
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    UNIQUE (tenant_id, name)
);
