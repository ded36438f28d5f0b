ALTER TABLE notifications DROP COLUMN expires_at;
