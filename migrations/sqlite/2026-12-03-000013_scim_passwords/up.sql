-- Whether SCIM clients may set passwords. Off unless the tenant turns it on: a SCIM
-- credential must not be able to choose the password a person signs in with.
ALTER TABLE tenants ADD COLUMN scim_passwords BOOLEAN NOT NULL DEFAULT 0;
