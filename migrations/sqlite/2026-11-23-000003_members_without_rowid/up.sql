-- Membership rows are only ever reached by (group, member) or by member: as a WITHOUT ROWID
-- table the primary key is the table itself, so adding a member writes two B-trees (the table
-- and members_member) instead of three (rowid table, key index, members_member).
CREATE TABLE members_new (
    tenant_id TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    member_type TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
INSERT INTO members_new SELECT tenant_id, group_id, member_id, member_type FROM members;
DROP TABLE members;
ALTER TABLE members_new RENAME TO members;
CREATE INDEX members_member ON members (member_id);
DELETE FROM sqlite_stat1 WHERE tbl = 'members';
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('members', 'members', '1000000 100 1'),
    ('members', 'members_member', '1000000 5');
ANALYZE sqlite_schema;
