-- Adding 1,000 members looks up 1,000 ids among the tenant's users and writes 1,000 rows.
-- A covering (id, tenant_id) index answers the lookup, tenant check included, from one
-- B-tree instead of the id index plus the table. The members.group_id foreign key is dropped:
-- it cost one more lookup per row, and muster deletes membership rows itself whenever it
-- deletes a group or a user (src/scim/store.rs), on both backends.
CREATE UNIQUE INDEX users_id_tenant ON users (id, tenant_id);
CREATE UNIQUE INDEX groups_id_tenant ON groups (id, tenant_id);
CREATE TABLE members_new (
    tenant_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    member_type TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
INSERT INTO members_new SELECT tenant_id, group_id, member_id, member_type FROM members;
DROP TABLE members;
ALTER TABLE members_new RENAME TO members;
CREATE INDEX members_member ON members (member_id);
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('users', 'users_id_tenant', '1000000 1 1'),
    ('groups', 'groups_id_tenant', '100000 1 1');
DELETE FROM sqlite_stat1 WHERE tbl = 'members';
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('members', 'members', '1000000 100 1'),
    ('members', 'members_member', '1000000 5');
ANALYZE sqlite_schema;
