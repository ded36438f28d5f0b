-- Sign-in: each tenant's identity providers, the return_to targets it allows, links from an
-- external identity to a user, login flows in progress, SAML assertions already used,
-- sessions, and the keys that sign muster's own tokens.
CREATE TABLE identity_providers (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    slug TEXT COLLATE "C" NOT NULL,
    title TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    -- JSON: OIDC issuer, client id, scopes; SAML entity id, SSO URL, certificates, metadata.
    settings TEXT COLLATE "C" NOT NULL,
    -- OIDC only. Read by muster alone, never returned by an API or a listing.
    client_secret TEXT COLLATE "C",
    -- JSON: which claim or SAML attribute fills which User attribute.
    mapping TEXT COLLATE "C" NOT NULL,
    -- JSON: the OIDC discovery document and JWKS as last fetched, and when.
    discovered TEXT COLLATE "C",
    discovered_at TEXT COLLATE "C",
    created_at TEXT COLLATE "C" NOT NULL,
    UNIQUE (tenant_id, slug)
);

CREATE TABLE redirect_targets (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    prefix TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, prefix)
);

CREATE TABLE external_identities (
    idp_id TEXT COLLATE "C" NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    subject TEXT COLLATE "C" NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    last_login_at TEXT COLLATE "C",
    PRIMARY KEY (idp_id, subject)
);
CREATE INDEX external_identities_user ON external_identities (user_id);

-- A login between leaving for the IdP and coming back, keyed by the hash of a cookie value.
CREATE TABLE login_flows (
    id_hash TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL,
    idp_id TEXT COLLATE "C" NOT NULL,
    -- JSON: OIDC state, nonce and PKCE verifier, or the SAML request id.
    secrets TEXT COLLATE "C" NOT NULL,
    return_to TEXT COLLATE "C",
    expires_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX login_flows_expiry ON login_flows (expires_at);

CREATE TABLE saml_seen (
    idp_id TEXT COLLATE "C" NOT NULL,
    assertion_id TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (idp_id, assertion_id)
);
CREATE INDEX saml_seen_expiry ON saml_seen (expires_at);

CREATE TABLE sessions (
    id_hash TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    idp_id TEXT COLLATE "C",
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE signing_keys (
    kid TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    alg TEXT COLLATE "C" NOT NULL,
    private_pem TEXT COLLATE "C" NOT NULL,
    public_jwk TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    -- Set when a newer key takes over; the key stays in the JWKS until its tokens expire.
    retired_at TEXT COLLATE "C"
);
