DROP TABLE signing_keys;
DROP TABLE sessions;
DROP TABLE saml_seen;
DROP TABLE login_flows;
DROP TABLE external_identities;
DROP TABLE redirect_targets;
DROP TABLE identity_providers;
