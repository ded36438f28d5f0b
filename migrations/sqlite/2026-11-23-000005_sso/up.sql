-- Sign-in: each tenant's identity providers, the return_to targets it allows, links from an
-- external identity to a user, login flows in progress, SAML assertions already used,
-- sessions, and the keys that sign muster's own tokens.
CREATE TABLE identity_providers (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 1,
    -- JSON: OIDC issuer, client id, scopes; SAML entity id, SSO URL, certificates, metadata.
    settings TEXT NOT NULL,
    -- OIDC only. Read by muster alone, never returned by an API or a listing.
    client_secret TEXT,
    -- JSON: which claim or SAML attribute fills which User attribute.
    mapping TEXT NOT NULL,
    -- JSON: the OIDC discovery document and JWKS as last fetched, and when.
    discovered TEXT,
    discovered_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (tenant_id, slug)
);

CREATE TABLE redirect_targets (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    prefix TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, prefix)
);

CREATE TABLE external_identities (
    idp_id TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_login_at TEXT,
    PRIMARY KEY (idp_id, subject)
);
CREATE INDEX external_identities_user ON external_identities (user_id);

-- A login between leaving for the IdP and coming back, keyed by the hash of a cookie value.
CREATE TABLE login_flows (
    id_hash TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    idp_id TEXT NOT NULL,
    -- JSON: OIDC state, nonce and PKCE verifier, or the SAML request id.
    secrets TEXT NOT NULL,
    return_to TEXT,
    expires_at TEXT NOT NULL
);
CREATE INDEX login_flows_expiry ON login_flows (expires_at);

CREATE TABLE saml_seen (
    idp_id TEXT NOT NULL,
    assertion_id TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (idp_id, assertion_id)
);
CREATE INDEX saml_seen_expiry ON saml_seen (expires_at);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    idp_id TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    alg TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- Set when a newer key takes over; the key stays in the JWKS until its tokens expire.
    retired_at TEXT
);
