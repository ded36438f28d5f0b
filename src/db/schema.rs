//! Table definitions shared by both backends; only types `MultiConnection` supports.

diesel::table! {
    tenants (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        mode -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    scim_tokens (id) {
        id -> Text,
        tenant_id -> Text,
        name -> Text,
        token_hash -> Text,
        created_at -> Text,
        last_used_at -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        tenant_id -> Text,
        user_name -> Text,
        user_name_key -> Text,
        external_id -> Nullable<Text>,
        display_name -> Nullable<Text>,
        active -> Bool,
        doc -> Text,
        password_hash -> Nullable<Text>,
        version -> BigInt,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    groups (id) {
        id -> Text,
        tenant_id -> Text,
        display_name -> Text,
        external_id -> Nullable<Text>,
        doc -> Text,
        version -> BigInt,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    members (group_id, member_id) {
        tenant_id -> Text,
        group_id -> Text,
        member_id -> Text,
        member_type -> Text,
    }
}

diesel::table! {
    attrs (resource_id, path, elem) {
        tenant_id -> Text,
        rtype -> Text,
        resource_id -> Text,
        path -> Text,
        elem -> Integer,
        val -> Nullable<Text>,
        num -> Nullable<Double>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(tenants, scim_tokens, users, groups, members, attrs);
