-- Every personal access token expires now; the ones made to last until revoked get the longest
-- lifetime a new token may have (366 days), counted from this upgrade.
UPDATE personal_tokens
SET expires_at = to_char((now() AT TIME ZONE 'UTC') + interval '366 days',
                         'YYYY-MM-DD"T"HH24:MI:SS".000000Z"')
WHERE expires_at IS NULL;
