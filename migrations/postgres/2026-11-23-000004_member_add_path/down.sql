DROP INDEX users_id_tenant;
DROP INDEX groups_id_tenant;
ALTER TABLE members ADD CONSTRAINT members_group_id_fkey
    FOREIGN KEY (group_id) REFERENCES groups(id) ON DELETE CASCADE;
