DROP TABLE personal_tokens;
ALTER TABLE users DROP COLUMN role;
DROP TABLE admin_tokens;
