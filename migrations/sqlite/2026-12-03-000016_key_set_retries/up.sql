-- When the key set was last asked for, whether or not the IdP answered: an IdP that is down is
-- not asked again by every token that names a key muster lacks.
ALTER TABLE token_introspectors ADD COLUMN jwks_tried_at TEXT;
