-- The provisioning activity log: every SCIM request, sign-in and admin action of a tenant,
-- newest first by id. Values of secrets never reach it; summaries name what changed.
CREATE TABLE activity (
    id BIGSERIAL PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    at TEXT COLLATE "C" NOT NULL,
    -- scim, sign-in, account, admin
    kind TEXT COLLATE "C" NOT NULL,
    -- The SCIM token or client, the admin token or person, the sign-in method.
    actor TEXT COLLATE "C" NOT NULL,
    method TEXT COLLATE "C" NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    status INTEGER NOT NULL,
    scim_type TEXT COLLATE "C",
    resource_id TEXT COLLATE "C",
    -- The user the entry is about, for `muster log --user`.
    user_id TEXT COLLATE "C",
    summary TEXT COLLATE "C" NOT NULL,
    request_id TEXT COLLATE "C"
);
-- Two indexes only: every one is paid for on each of thousands of inserts a second.
-- Retention walks the primary key from the oldest entry instead of an index on \`at\`.
CREATE INDEX activity_tenant ON activity (tenant_id, id);
CREATE INDEX activity_user ON activity (tenant_id, user_id, id) WHERE user_id IS NOT NULL;
