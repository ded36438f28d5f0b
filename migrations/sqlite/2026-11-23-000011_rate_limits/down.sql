DROP TABLE rate_counts;
ALTER TABLE tenants DROP COLUMN address_rate_limit;
ALTER TABLE tenants DROP COLUMN scim_rate_limit;
