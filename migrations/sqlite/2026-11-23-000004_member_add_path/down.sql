DROP INDEX users_id_tenant;
DROP INDEX groups_id_tenant;
DELETE FROM sqlite_stat1 WHERE idx IN ('users_id_tenant', 'groups_id_tenant');
CREATE TABLE members_old (
    tenant_id TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    member_type TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
INSERT INTO members_old SELECT tenant_id, group_id, member_id, member_type FROM members;
DROP TABLE members;
ALTER TABLE members_old RENAME TO members;
CREATE INDEX members_member ON members (member_id);
