-- TokenIntrospectors: a tenant trusts JWTs its own IdP issues (an Okta or Entra access token,
-- say) as API credentials of the person they name.
CREATE TABLE token_introspectors (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- The identity provider whose people the tokens name: its claim mapping applies, and a
    -- token's subject links to the same user as a sign-in there.
    idp_id TEXT COLLATE "C" NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    issuer TEXT COLLATE "C" NOT NULL,
    audience TEXT COLLATE "C" NOT NULL,
    jwks_url TEXT COLLATE "C" NOT NULL,
    -- Space-separated JWS algorithms accepted (asymmetric only).
    algorithms TEXT COLLATE "C" NOT NULL,
    subject_claim TEXT COLLATE "C" NOT NULL,
    -- The key set as last fetched, shared by every muster process.
    jwks TEXT COLLATE "C",
    jwks_fetched_at TEXT COLLATE "C",
    created_at TEXT COLLATE "C" NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX token_introspectors_issuer ON token_introspectors (tenant_id, issuer);
