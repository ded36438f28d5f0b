-- SQLite-only storage change (see the sqlite tree); PostgreSQL tables have no rowid. Kept so
-- both trees hold the same migrations.
SELECT 1;
