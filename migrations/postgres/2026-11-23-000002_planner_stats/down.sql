-- SQLite-only planner statistics (see the sqlite tree); PostgreSQL keeps its own through
-- autovacuum. Kept so both trees hold the same migrations.
SELECT 1;
