-- Tenants, SCIM bearer tokens, and SCIM resources with their filter index and membership rows.
-- PostgreSQL: every text column uses byte order ("C") so prefix ranges and LIKE can use the
-- indexes, and sorting matches SQLite exactly.
CREATE TABLE tenants (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    slug TEXT COLLATE "C" NOT NULL UNIQUE,
    name TEXT COLLATE "C" NOT NULL,
    mode TEXT COLLATE "C" NOT NULL DEFAULT 'scim',
    created_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE scim_tokens (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at TEXT COLLATE "C" NOT NULL,
    last_used_at TEXT COLLATE "C",
    UNIQUE (tenant_id, name)
);

CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_name TEXT COLLATE "C" NOT NULL,
    user_name_key TEXT COLLATE "C" NOT NULL,
    external_id TEXT COLLATE "C",
    display_name TEXT COLLATE "C",
    active BOOLEAN NOT NULL DEFAULT TRUE,
    doc TEXT COLLATE "C" NOT NULL,
    password_hash TEXT COLLATE "C",
    version BIGINT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, user_name_key);
CREATE INDEX users_external_id ON users (tenant_id, external_id);
CREATE INDEX users_created ON users (tenant_id, created_at, id);

CREATE TABLE groups (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    display_name TEXT COLLATE "C" NOT NULL,
    external_id TEXT COLLATE "C",
    doc TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX groups_external_id ON groups (tenant_id, external_id);
CREATE INDEX groups_created ON groups (tenant_id, created_at, id);

-- One row per (group, member); member_type is 'User' or 'Group'.
CREATE TABLE members (
    tenant_id TEXT COLLATE "C" NOT NULL,
    group_id TEXT COLLATE "C" NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    member_id TEXT COLLATE "C" NOT NULL,
    member_type TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX members_member ON members (member_id);

-- The filter index: one row per attribute value of a resource (see src/scim/index.rs).
CREATE TABLE attrs (
    tenant_id TEXT COLLATE "C" NOT NULL,
    rtype TEXT COLLATE "C" NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    elem INTEGER NOT NULL,
    val TEXT COLLATE "C",
    num DOUBLE PRECISION
);
CREATE INDEX attrs_lookup ON attrs (tenant_id, rtype, path, val);
CREATE INDEX attrs_resource ON attrs (resource_id, path, elem);
