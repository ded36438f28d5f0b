-- Who may use the admin API: platform admin tokens, tenant roles, and the personal access
-- tokens people make for themselves.

-- Platform admins act on every tenant. Made with `muster admin-token create`.
CREATE TABLE admin_tokens (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name TEXT COLLATE "C" NOT NULL UNIQUE,
    -- SHA-256 of the token; the token is shown once, when it is made.
    token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at TEXT COLLATE "C" NOT NULL,
    last_used_at TEXT COLLATE "C"
);

-- A user's role in their tenant: 'member' or 'admin' (administers the tenant). Kept outside
-- the SCIM document, so an IdP's sync never grants or drops it.
ALTER TABLE users ADD COLUMN role TEXT COLLATE "C" NOT NULL DEFAULT 'member';

CREATE TABLE personal_tokens (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C",
    last_used_at TEXT COLLATE "C",
    UNIQUE (user_id, name)
);
CREATE INDEX personal_tokens_tenant ON personal_tokens (tenant_id);
