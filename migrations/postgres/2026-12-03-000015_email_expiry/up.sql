-- When the link an email carries stops working: an email still unsent by then is given up
-- and its body (the link) erased.
ALTER TABLE notifications ADD COLUMN expires_at TEXT;
-- Failed emails keep no body: it may hold a live link.
UPDATE notifications SET html = '', text = '' WHERE status = 'failed';
