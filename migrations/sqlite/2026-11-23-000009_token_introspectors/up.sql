-- TokenIntrospectors: a tenant trusts JWTs its own IdP issues (an Okta or Entra access token,
-- say) as API credentials of the person they name.
CREATE TABLE token_introspectors (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- The identity provider whose people the tokens name: its claim mapping applies, and a
    -- token's subject links to the same user as a sign-in there.
    idp_id TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    issuer TEXT NOT NULL,
    audience TEXT NOT NULL,
    jwks_url TEXT NOT NULL,
    -- Space-separated JWS algorithms accepted (asymmetric only).
    algorithms TEXT NOT NULL,
    subject_claim TEXT NOT NULL,
    -- The key set as last fetched, shared by every muster process.
    jwks TEXT,
    jwks_fetched_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX token_introspectors_issuer ON token_introspectors (tenant_id, issuer);
