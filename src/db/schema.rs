//! Table definitions shared by both backends; only types `MultiConnection` supports.

diesel::table! {
    tenants (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        mode -> Text,
        created_at -> Text,
        scim_rate_limit -> Integer,
        address_rate_limit -> Integer,
        scim_passwords -> Bool,
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
        role -> Text,
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

diesel::table! {
    identity_providers (id) {
        id -> Text,
        tenant_id -> Text,
        slug -> Text,
        title -> Text,
        kind -> Text,
        active -> Bool,
        settings -> Text,
        client_secret -> Nullable<Text>,
        mapping -> Text,
        discovered -> Nullable<Text>,
        discovered_at -> Nullable<Text>,
        created_at -> Text,
        link_by -> Text,
        trust_email -> Bool,
    }
}

diesel::table! {
    redirect_targets (tenant_id, prefix) {
        tenant_id -> Text,
        prefix -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    external_identities (idp_id, subject) {
        idp_id -> Text,
        subject -> Text,
        tenant_id -> Text,
        user_id -> Text,
        created_at -> Text,
        last_login_at -> Nullable<Text>,
    }
}

diesel::table! {
    login_flows (id_hash) {
        id_hash -> Text,
        tenant_id -> Text,
        idp_id -> Text,
        secrets -> Text,
        return_to -> Nullable<Text>,
        expires_at -> Text,
    }
}

diesel::table! {
    saml_seen (idp_id, assertion_id) {
        idp_id -> Text,
        assertion_id -> Text,
        expires_at -> Text,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        tenant_id -> Text,
        user_id -> Text,
        idp_id -> Nullable<Text>,
        created_at -> Text,
        expires_at -> Text,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_pem -> Text,
        public_jwk -> Text,
        created_at -> Text,
        retired_at -> Nullable<Text>,
    }
}

diesel::table! {
    invites (id) {
        id -> Text,
        tenant_id -> Text,
        user_id -> Text,
        email -> Text,
        token_hash -> Text,
        created_at -> Text,
        expires_at -> Text,
        accepted_at -> Nullable<Text>,
        revoked_at -> Nullable<Text>,
    }
}

diesel::table! {
    password_resets (token_hash) {
        token_hash -> Text,
        tenant_id -> Text,
        user_id -> Text,
        created_at -> Text,
        expires_at -> Text,
        used_at -> Nullable<Text>,
    }
}

diesel::table! {
    login_failures (key) {
        key -> Text,
        failures -> Integer,
        window_start -> Text,
    }
}

diesel::table! {
    notification_templates (tenant_id, kind) {
        tenant_id -> Text,
        kind -> Text,
        subject -> Text,
        html -> Text,
        text -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        tenant_id -> Text,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        html -> Text,
        text -> Text,
        status -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        next_attempt_at -> Text,
        locked_until -> Nullable<Text>,
        created_at -> Text,
        sent_at -> Nullable<Text>,
        expires_at -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_clients (client_id) {
        client_id -> Text,
        tenant_id -> Text,
        name -> Text,
        secret_hash -> Text,
        scopes -> Text,
        created_at -> Text,
        last_used_at -> Nullable<Text>,
    }
}

diesel::table! {
    admin_tokens (id) {
        id -> Text,
        name -> Text,
        token_hash -> Text,
        created_at -> Text,
        last_used_at -> Nullable<Text>,
    }
}

diesel::table! {
    personal_tokens (id) {
        id -> Text,
        tenant_id -> Text,
        user_id -> Text,
        name -> Text,
        token_hash -> Text,
        created_at -> Text,
        expires_at -> Nullable<Text>,
        last_used_at -> Nullable<Text>,
    }
}

diesel::table! {
    token_introspectors (id) {
        id -> Text,
        tenant_id -> Text,
        idp_id -> Text,
        name -> Text,
        issuer -> Text,
        audience -> Text,
        jwks_url -> Text,
        algorithms -> Text,
        subject_claim -> Text,
        jwks -> Nullable<Text>,
        jwks_fetched_at -> Nullable<Text>,
        created_at -> Text,
        jwks_tried_at -> Nullable<Text>,
    }
}

diesel::table! {
    activity (id) {
        id -> BigInt,
        tenant_id -> Text,
        at -> Text,
        kind -> Text,
        actor -> Text,
        method -> Text,
        path -> Text,
        status -> Integer,
        scim_type -> Nullable<Text>,
        resource_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        summary -> Text,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    rate_counts (key, window_start) {
        key -> Text,
        window_start -> BigInt,
        count -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    scim_tokens,
    users,
    groups,
    members,
    attrs,
    identity_providers,
    redirect_targets,
    external_identities,
    login_flows,
    saml_seen,
    sessions,
    signing_keys,
    invites,
    password_resets,
    login_failures,
    notification_templates,
    notifications,
    oauth_clients,
    admin_tokens,
    personal_tokens,
    token_introspectors,
    activity,
    rate_counts
);
