-- The provisioning activity log: every SCIM request, sign-in and admin action of a tenant,
-- newest first by id. Values of secrets never reach it; summaries name what changed.
CREATE TABLE activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    -- scim, sign-in, account, admin
    kind TEXT NOT NULL,
    -- The SCIM token or client, the admin token or person, the sign-in method.
    actor TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    scim_type TEXT,
    resource_id TEXT,
    -- The user the entry is about, for `muster log --user`.
    user_id TEXT,
    summary TEXT NOT NULL,
    request_id TEXT
);
-- Two indexes only: every one is paid for on each of thousands of inserts a second.
-- Retention walks the primary key from the oldest entry instead of an index on \`at\`.
CREATE INDEX activity_tenant ON activity (tenant_id, id);
CREATE INDEX activity_user ON activity (tenant_id, user_id, id) WHERE user_id IS NOT NULL;
