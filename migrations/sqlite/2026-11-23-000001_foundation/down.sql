DROP TABLE attrs;
DROP TABLE members;
DROP TABLE groups;
DROP TABLE users;
DROP TABLE scim_tokens;
DROP TABLE tenants;
