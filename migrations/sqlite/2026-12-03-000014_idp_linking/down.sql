ALTER TABLE identity_providers DROP COLUMN link_by;
ALTER TABLE identity_providers DROP COLUMN trust_email;
