-- The same membership path as the sqlite tree: member ids are looked up with the tenant check
-- in one index, and membership rows carry no foreign key (muster deletes them itself).
CREATE UNIQUE INDEX users_id_tenant ON users (id, tenant_id);
CREATE UNIQUE INDEX groups_id_tenant ON groups (id, tenant_id);
ALTER TABLE members DROP CONSTRAINT members_group_id_fkey;
