ALTER TABLE tenants DROP COLUMN scim_passwords;
