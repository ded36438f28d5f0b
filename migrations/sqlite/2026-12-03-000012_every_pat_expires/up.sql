-- Every personal access token expires now; the ones made to last until revoked get the longest
-- lifetime a new token may have (366 days), counted from this upgrade.
UPDATE personal_tokens
SET expires_at = strftime('%Y-%m-%dT%H:%M:%S', 'now', '+366 days') || '.000000Z'
WHERE expires_at IS NULL;
