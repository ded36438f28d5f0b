-- A person's lifecycle: invitations, password resets, sign-in throttling, the tenant's email
-- templates, and the outbox every email goes through.

CREATE TABLE invites (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- The invited user, inactive until the invitation is accepted.
    user_id TEXT COLLATE "C" NOT NULL,
    email TEXT COLLATE "C" NOT NULL,
    -- SHA-256 of the link's token; the token itself is only in the email.
    token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL,
    accepted_at TEXT COLLATE "C",
    revoked_at TEXT COLLATE "C"
);
CREATE INDEX invites_user ON invites (tenant_id, user_id);

CREATE TABLE password_resets (
    token_hash TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL,
    used_at TEXT COLLATE "C"
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- Failed password sign-ins per account and per client address, in fixed windows.
CREATE TABLE login_failures (
    key TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    window_start TEXT COLLATE "C" NOT NULL
);

-- A tenant's override of a default email template (templates/email/).
CREATE TABLE notification_templates (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    html TEXT COLLATE "C" NOT NULL,
    text TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

-- The outbox: written in the transaction that causes the email, sent by a background worker.
-- The rendered message is kept only until it is sent (it may hold a sign-in link).
CREATE TABLE notifications (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    recipient TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    html TEXT COLLATE "C" NOT NULL,
    text TEXT COLLATE "C" NOT NULL,
    -- pending | sent | failed
    status TEXT COLLATE "C" NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT COLLATE "C",
    next_attempt_at TEXT COLLATE "C" NOT NULL,
    -- A worker that claimed the email owns it until then.
    locked_until TEXT COLLATE "C",
    created_at TEXT COLLATE "C" NOT NULL,
    sent_at TEXT COLLATE "C"
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_tenant ON notifications (tenant_id, created_at);
