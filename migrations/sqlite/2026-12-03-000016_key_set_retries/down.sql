ALTER TABLE token_introspectors DROP COLUMN jwks_tried_at;
