-- Per-tenant SCIM rate limits, in requests per minute; 0 is no limit.
ALTER TABLE tenants ADD COLUMN scim_rate_limit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN address_rate_limit INTEGER NOT NULL DEFAULT 0;

-- Requests per key (a credential or a client address) and one-minute window, summed over
-- every muster process. Each process adds its own count about once a second, not per request.
CREATE TABLE rate_counts (
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
