-- SQLite plans from sqlite_stat1, and muster never runs ANALYZE, so without these rows the
-- planner guesses that `tenant_id = ?` is selective and walks a whole tenant's users in
-- created order instead of looking the filtered ids up. These figures describe a large tenant
-- (100k users of 1M, ~20 index rows per user, a value shared by ~2 rows), so a fresh database
-- already plans filters as index lookups. A later ANALYZE replaces them with real figures.
ANALYZE;
DELETE FROM sqlite_stat1;
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('tenants', 'sqlite_autoindex_tenants_1', '100 1'),
    ('tenants', 'sqlite_autoindex_tenants_2', '100 1'),
    ('scim_tokens', 'sqlite_autoindex_scim_tokens_1', '1000 1'),
    ('scim_tokens', 'sqlite_autoindex_scim_tokens_2', '1000 1'),
    ('scim_tokens', 'sqlite_autoindex_scim_tokens_3', '1000 10 1'),
    ('users', 'sqlite_autoindex_users_1', '1000000 1'),
    ('users', 'users_user_name', '1000000 100000 1'),
    ('users', 'users_external_id', '1000000 100000 1'),
    ('users', 'users_created', '1000000 100000 1 1'),
    ('groups', 'sqlite_autoindex_groups_1', '100000 1'),
    ('groups', 'groups_external_id', '100000 10000 1'),
    ('groups', 'groups_created', '100000 10000 1 1'),
    ('members', 'sqlite_autoindex_members_1', '1000000 100 1'),
    ('members', 'members_member', '1000000 5'),
    ('attrs', 'attrs_lookup', '20000000 2000000 1000000 100000 2'),
    ('attrs', 'attrs_resource', '20000000 20 2 1');
-- Makes the planner reload the statistics.
ANALYZE sqlite_schema;
