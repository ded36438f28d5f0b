-- Tenants, SCIM bearer tokens, and SCIM resources with their filter index and membership rows.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    mode TEXT NOT NULL DEFAULT 'scim',
    created_at TEXT NOT NULL
);

CREATE TABLE scim_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    UNIQUE (tenant_id, name)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    user_name_key TEXT NOT NULL,
    external_id TEXT,
    display_name TEXT,
    active BOOLEAN NOT NULL DEFAULT 1,
    doc TEXT NOT NULL,
    password_hash TEXT,
    version BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, user_name_key);
CREATE INDEX users_external_id ON users (tenant_id, external_id);
CREATE INDEX users_created ON users (tenant_id, created_at, id);

CREATE TABLE groups (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    external_id TEXT,
    doc TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX groups_external_id ON groups (tenant_id, external_id);
CREATE INDEX groups_created ON groups (tenant_id, created_at, id);

-- One row per (group, member); member_type is 'User' or 'Group'.
CREATE TABLE members (
    tenant_id TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    member_type TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX members_member ON members (member_id);

-- The filter index: one row per attribute value of a resource (see src/scim/index.rs).
CREATE TABLE attrs (
    tenant_id TEXT NOT NULL,
    rtype TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    path TEXT NOT NULL,
    elem INTEGER NOT NULL,
    val TEXT,
    num DOUBLE PRECISION
);
CREATE INDEX attrs_lookup ON attrs (tenant_id, rtype, path, val);
CREATE INDEX attrs_resource ON attrs (resource_id, path, elem);
