//! The SCIM protocol around the resources: authentication, tenant isolation, ETags, errors,
//! hostile input, discovery endpoints and media types.

use crate::util::{Resp, Tenant, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

crate::on_both_backends!(
    requests_without_a_valid_token_get_scim_401,
    revoked_token_stops_working_on_the_next_request,
    two_tokens_of_one_tenant_work_at_once,
    another_tenants_token_or_an_unknown_tenant_get_401,
    users_of_one_tenant_are_invisible_to_another,
    group_cannot_take_another_tenants_user_as_member,
    etag_header_equals_meta_version,
    if_none_match_answers_304_only_for_the_current_version,
    stale_if_match_is_refused_with_412_and_changes_nothing,
    current_or_star_if_match_lets_the_write_through,
    bad_bodies_get_400_with_the_right_scim_type,
    body_over_one_mebibyte_gets_413,
    unknown_routes_get_scim_404,
    discovery_endpoints_refuse_writes_with_405,
    me_answers_501,
    hostile_input_never_gets_a_500,
    service_provider_config_advertises_every_feature,
    resource_types_list_user_and_group,
    schemas_list_every_schema_and_find_one_by_urn,
    meta_locations_start_with_the_tenant_base_url,
    application_json_requests_are_accepted_and_answers_are_scim_json,
);

const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Asserts a SCIM error with this status and the SCIM media type.
fn assert_scim_error(r: &Resp, status: u16, scim_type: Option<&str>) {
    r.assert_error(status, scim_type);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/scim+json"),
        "{status}: {:?}",
        r.body
    );
}

/// Asserts a 401 in SCIM form.
fn assert_401(r: &Resp, what: &str) {
    assert_eq!(r.status, 401, "{what}: {:?}", r.body);
    assert_scim_error(r, 401, None);
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.to_ascii_lowercase().starts_with("bearer")),
        "{what}: a 401 names the Bearer scheme"
    );
}

/// A request to `path` under `t`'s SCIM base with no Authorization header at all.
fn anonymous(app: &TestApp, t: &Tenant, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.client.request(method, format!("{}{path}", t.scim))
}

/// The same tenant URL with another token.
fn with_token(t: &Tenant, token: &str) -> Tenant {
    let mut other = t.clone();
    token.clone_into(&mut other.token);
    other
}

/// Sends raw bytes with a method and content type.
async fn send_raw(
    t: &Tenant,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Resp {
    t.send(
        t.req(method, path)
            .header("content-type", content_type)
            .body(body),
    )
    .await
}

async fn requests_without_a_valid_token_get_scim_401(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("alice", json!({})).await;

    let none = t.send(anonymous(&app, &t, Method::GET, "/Users")).await;
    assert_401(&none, "no Authorization header");

    let wrong = with_token(&t, "mst_scim_not-a-real-token");
    assert_401(&wrong.get("/Users").await, "wrong token");
    assert_401(
        &wrong.get(&format!("/Users/{id}")).await,
        "wrong token, by id",
    );
    // A write with a wrong token must not happen.
    let del = wrong.delete(&format!("/Users/{id}")).await;
    assert_401(&del, "wrong token, DELETE");
    assert_eq!(t.get(&format!("/Users/{id}")).await.status, 200);

    // The right token, but not in Bearer form.
    for header in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Basic xyz".to_owned(),
        format!("Basic {}", t.token),
        format!("Token {}", t.token),
        t.token.clone(),
    ] {
        let r = t
            .send(anonymous(&app, &t, Method::GET, "/Users").header("authorization", &header))
            .await;
        assert_401(&r, &format!("Authorization: {header:?}"));
    }

    // Discovery and Bulk are protected as well.
    for path in [
        "/ServiceProviderConfig",
        "/Schemas",
        "/ResourceTypes",
        "/Groups",
        "",
    ] {
        let r = t.send(anonymous(&app, &t, Method::GET, path)).await;
        assert_401(&r, &format!("GET {path} without a token"));
    }
    let bulk = t
        .send(
            anonymous(&app, &t, Method::POST, "/Bulk")
                .header("content-type", "application/scim+json")
                .body(json!({"Operations": []}).to_string()),
        )
        .await;
    assert_401(&bulk, "POST /Bulk without a token");

    // The scheme name is case-insensitive (RFC 7235): this is not an authentication failure.
    let lower = t
        .send(
            anonymous(&app, &t, Method::GET, "/Users")
                .header("authorization", format!("bearer {}", t.token)),
        )
        .await;
    assert_eq!(lower.status, 200, "{:?}", lower.body);
}

async fn revoked_token_stops_working_on_the_next_request(app: TestApp) {
    let t = app.tenant().await;
    let slug = t.slug.clone();
    let second = app
        .state
        .db
        .run(move |c| {
            let t = muster::tenants::by_slug(c, &slug.as_str().into())?;
            muster::auth::scim_tokens::create(c, &t.id, "second")
        })
        .await
        .map_err(|e| e.to_string())
        .unwrap();
    assert_ne!(second, t.token);
    let t2 = with_token(&t, &second);
    let created = t2
        .post("/Users", &json!({"userName": "made-by-second"}))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);

    let slug = t.slug.clone();
    app.state
        .db
        .run(move |c| {
            let t = muster::tenants::by_slug(c, &slug.as_str().into())?;
            muster::auth::scim_tokens::revoke(c, &t.id, "second")
        })
        .await
        .map_err(|e| e.to_string())
        .unwrap();
    assert_401(&t2.get("/Users").await, "revoked token");
    assert_401(
        &t2.post("/Users", &json!({"userName": "after-revoke"}))
            .await,
        "revoked token, POST",
    );
    // The other token of the tenant is untouched, and the refused POST did not happen.
    assert_eq!(t.user_ids("userName eq \"after-revoke\"").await.len(), 0);
    assert_eq!(t.user_ids("userName eq \"made-by-second\"").await.len(), 1);
}

async fn two_tokens_of_one_tenant_work_at_once(app: TestApp) {
    let t = app.tenant().await;
    let slug = t.slug.clone();
    let rotated = app
        .state
        .db
        .run(move |c| {
            let t = muster::tenants::by_slug(c, &slug.as_str().into())?;
            muster::auth::scim_tokens::create(c, &t.id, "rotated")
        })
        .await
        .map_err(|e| e.to_string())
        .unwrap();
    let new = with_token(&t, &rotated);
    let a = t.user("from-old-token", json!({})).await;
    let b = new.user("from-new-token", json!({})).await;
    // Each token sees what the other created: one tenant.
    assert_eq!(new.get(&format!("/Users/{a}")).await.status, 200);
    assert_eq!(t.get(&format!("/Users/{b}")).await.status, 200);
    // Alternating requests keep working.
    for _ in 0..3 {
        assert_eq!(t.get("/Users").await.status, 200);
        assert_eq!(new.get("/Users").await.status, 200);
    }
}

async fn another_tenants_token_or_an_unknown_tenant_get_401(app: TestApp) {
    let a = app.tenant().await;
    let b = app.tenant().await;
    let id = a.user("only-in-a", json!({})).await;
    // B's valid token on A's URL.
    let b_on_a = with_token(&a, &b.token);
    assert_401(&b_on_a.get("/Users").await, "another tenant's token");
    assert_401(
        &b_on_a.get(&format!("/Users/{id}")).await,
        "another tenant's token, by id",
    );
    assert_401(
        &b_on_a.delete(&format!("/Users/{id}")).await,
        "another tenant's token, DELETE",
    );
    assert_eq!(a.get(&format!("/Users/{id}")).await.status, 200);

    // A valid token on a tenant that does not exist.
    let mut nowhere = a.clone();
    nowhere.scim = format!(
        "{}/scim/v2/no-such-tenant-{}",
        app.url,
        uuid::Uuid::new_v4()
    );
    assert_401(&nowhere.get("/Users").await, "unknown tenant");
    assert_401(
        &nowhere.get("/ServiceProviderConfig").await,
        "unknown tenant, discovery",
    );
}

async fn users_of_one_tenant_are_invisible_to_another(app: TestApp) {
    let a = app.tenant().await;
    let b = app.tenant().await;
    let id = a
        .user(
            "shared.name@example.com",
            json!({"displayName": "A's user"}),
        )
        .await;
    let path = format!("/Users/{id}");
    let before = a.get(&path).await;
    assert_eq!(before.status, 200);

    assert_scim_error(&b.get(&path).await, 404, None);
    let list = b
        .send(
            b.req(Method::GET, "/Users")
                .query(&[("filter", "userName eq \"shared.name@example.com\"")]),
        )
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["totalResults"], 0, "{:?}", list.body);
    assert_eq!(b.get("/Users").await.body["totalResults"], 0);
    assert_eq!(b.get("").await.body["totalResults"], 0, "root list");

    let patched = b
        .patch_ops(
            &path,
            json!([{"op": "replace", "path": "displayName", "value": "hijacked"}]),
        )
        .await;
    assert_scim_error(&patched, 404, None);
    let put = b
        .put(
            &path,
            &json!({"userName": "hijacked", "displayName": "hijacked"}),
        )
        .await;
    assert_scim_error(&put, 404, None);
    assert_scim_error(&b.delete(&path).await, 404, None);

    let after = a.get(&path).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.body, before.body, "A's user is unchanged");

    // B may use the same userName: uniqueness is per tenant.
    let b_id = b.user("shared.name@example.com", json!({})).await;
    assert_ne!(b_id, id);
    assert_eq!(
        a.user_ids("userName eq \"shared.name@example.com\"").await,
        vec![id]
    );
}

async fn group_cannot_take_another_tenants_user_as_member(app: TestApp) {
    let a = app.tenant().await;
    let b = app.tenant().await;
    let a_user = a.user("a-user", json!({})).await;
    let r = b
        .post(
            "/Groups",
            &json!({"displayName": "thieves", "members": [{"value": a_user}]}),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_eq!(b.get("/Groups").await.body["totalResults"], 0);

    // Nor by PATCH on an existing group of B.
    let g = b.group("b-group", &[]).await;
    let r = b
        .patch_ops(
            &format!("/Groups/{g}"),
            json!([{"op": "add", "path": "members", "value": [{"value": a_user}]}]),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let got = b.get(&format!("/Groups/{g}")).await;
    assert!(
        got.body["members"].as_array().is_none_or(|m| m.is_empty()),
        "{:?}",
        got.body
    );
    // A's user is in no group.
    let user = a.get(&format!("/Users/{a_user}")).await;
    assert!(
        user.body["groups"].as_array().is_none_or(|g| g.is_empty()),
        "{:?}",
        user.body
    );
}

/// Asserts `ETag` equals `meta.version` and returns it.
fn etag_of(r: &Resp, what: &str) -> String {
    let tag = r
        .header("etag")
        .unwrap_or_else(|| panic!("{what}: no ETag header"));
    assert_eq!(tag, r.body["meta"]["version"], "{what}");
    assert!(
        tag.starts_with("W/\"") || tag.starts_with('"'),
        "{what}: {tag}"
    );
    tag
}

async fn etag_header_equals_meta_version(app: TestApp) {
    let t = app.tenant().await;
    let created = t.post("/Users", &json!({"userName": "etag"})).await;
    assert_eq!(created.status, 201);
    let v1 = etag_of(&created, "POST");
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    assert_eq!(etag_of(&t.get(&path).await, "GET"), v1);

    let put = t
        .put(&path, &json!({"userName": "etag", "title": "x"}))
        .await;
    assert_eq!(put.status, 200);
    let v2 = etag_of(&put, "PUT");
    assert_ne!(v2, v1, "PUT changes the version");

    let patched = t
        .patch_ops(
            &path,
            json!([{"op": "replace", "path": "title", "value": "y"}]),
        )
        .await;
    assert_eq!(patched.status, 200);
    let v3 = etag_of(&patched, "PATCH");
    assert_ne!(v3, v2, "PATCH changes the version");
    assert_eq!(etag_of(&t.get(&path).await, "GET after PATCH"), v3);

    // A Group PATCH answered with 204 still carries the new ETag.
    let g = t.group("etag-group", &[]).await;
    let gpath = format!("/Groups/{g}");
    let before = etag_of(&t.get(&gpath).await, "GET group");
    let r = t
        .patch_ops(
            &gpath,
            json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let after = r.header("etag").expect("ETag on 204");
    assert_ne!(after, before);
    assert_eq!(
        etag_of(&t.get(&gpath).await, "GET group after PATCH"),
        after
    );
}

async fn if_none_match_answers_304_only_for_the_current_version(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("cache", json!({})).await;
    let path = format!("/Users/{id}");
    let old = etag_of(&t.get(&path).await, "GET");

    let cached = t
        .send(t.req(Method::GET, &path).header("if-none-match", &old))
        .await;
    assert_eq!(cached.status, 304);
    assert_eq!(cached.body, Value::Null, "304 has no body");
    assert_eq!(cached.header("etag"), Some(old.clone()));

    t.patch_ops(
        &path,
        json!([{"op": "replace", "path": "title", "value": "new"}]),
    )
    .await;
    let stale = t
        .send(t.req(Method::GET, &path).header("if-none-match", &old))
        .await;
    assert_eq!(stale.status, 200, "an old ETag gets the new resource");
    assert_eq!(stale.body["title"], "new");
    let current = etag_of(&stale, "GET after change");
    assert_ne!(current, old);
    // A list of tags matches when any of them is current.
    let listed = t
        .send(
            t.req(Method::GET, &path)
                .header("if-none-match", format!("{old}, {current}")),
        )
        .await;
    assert_eq!(listed.status, 304);
}

/// A user, its path and its current ETag, after one change (so versions 1 and 2 exist).
async fn changed_user(t: &Tenant, name: &str) -> (String, String, String) {
    let id = t.user(name, json!({"title": "v1"})).await;
    let path = format!("/Users/{id}");
    let old = etag_of(&t.get(&path).await, "GET");
    let r = t
        .patch_ops(
            &path,
            json!([{"op": "replace", "path": "title", "value": "v2"}]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_ne!(etag_of(&r, "PATCH"), old);
    (id, path, old)
}

async fn stale_if_match_is_refused_with_412_and_changes_nothing(app: TestApp) {
    let t = app.tenant().await;
    let (_, path, stale) = changed_user(&t, "guarded").await;
    let before = t.get(&path).await;

    let put = t
        .send(
            t.req(Method::PUT, &path)
                .header("content-type", "application/scim+json")
                .header("if-match", &stale)
                .body(json!({"userName": "guarded", "title": "put"}).to_string()),
        )
        .await;
    assert_scim_error(&put, 412, None);

    let patch = t
        .send(
            t.req(Method::PATCH, &path)
                .header("content-type", "application/scim+json")
                .header("if-match", &stale)
                .body(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": "patch"}]})
                    .to_string(),
                ),
        )
        .await;
    assert_scim_error(&patch, 412, None);

    let del = t
        .send(t.req(Method::DELETE, &path).header("if-match", &stale))
        .await;
    assert_scim_error(&del, 412, None);

    // A made-up tag is stale too.
    let del = t
        .send(t.req(Method::DELETE, &path).header("if-match", "W/\"999\""))
        .await;
    assert_scim_error(&del, 412, None);

    let after = t.get(&path).await;
    assert_eq!(after.status, 200, "the resource still exists");
    assert_eq!(after.body, before.body, "and is unchanged");
    assert_eq!(after.body["title"], "v2");
}

async fn current_or_star_if_match_lets_the_write_through(app: TestApp) {
    let t = app.tenant().await;
    let (_, path, _) = changed_user(&t, "matching").await;
    let current = etag_of(&t.get(&path).await, "GET");

    let put = t
        .send(
            t.req(Method::PUT, &path)
                .header("content-type", "application/scim+json")
                .header("if-match", &current)
                .body(json!({"userName": "matching", "title": "put"}).to_string()),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["title"], "put");
    let current = etag_of(&put, "PUT");

    let patch = t
        .send(
            t.req(Method::PATCH, &path)
                .header("content-type", "application/scim+json")
                .header("if-match", &current)
                .body(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": "patch"}]})
                    .to_string(),
                ),
        )
        .await;
    assert_eq!(patch.status, 200, "{:?}", patch.body);
    assert_eq!(patch.body["title"], "patch");

    let star = t
        .send(
            t.req(Method::PATCH, &path)
                .header("content-type", "application/scim+json")
                .header("if-match", "*")
                .body(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": "star"}]})
                    .to_string(),
                ),
        )
        .await;
    assert_eq!(star.status, 200, "{:?}", star.body);
    assert_eq!(star.body["title"], "star");

    let star_put = t
        .send(
            t.req(Method::PUT, &path)
                .header("content-type", "application/scim+json")
                .header("if-match", "*")
                .body(json!({"userName": "matching", "title": "star-put"}).to_string()),
        )
        .await;
    assert_eq!(star_put.status, 200, "{:?}", star_put.body);
    let current = etag_of(&star_put, "PUT *");

    let del = t
        .send(t.req(Method::DELETE, &path).header("if-match", &current))
        .await;
    assert_eq!(del.status, 204, "{:?}", del.body);
    assert_eq!(t.get(&path).await.status, 404);

    let (_, path, _) = changed_user(&t, "deleted-with-star").await;
    let del = t
        .send(t.req(Method::DELETE, &path).header("if-match", "*"))
        .await;
    assert_eq!(del.status, 204, "{:?}", del.body);
    assert_eq!(t.get(&path).await.status, 404);
}

async fn bad_bodies_get_400_with_the_right_scim_type(app: TestApp) {
    let t = app.tenant().await;
    let syntax = [
        b"{\"userName\": ".to_vec(),
        b"{userName: 'x'}".to_vec(),
        b"not json".to_vec(),
        Vec::new(),
        b"[{\"userName\": \"in-an-array\"}]".to_vec(),
        b"\"just a string\"".to_vec(),
    ];
    for body in syntax {
        let r = send_raw(
            &t,
            Method::POST,
            "/Users",
            "application/scim+json",
            body.clone(),
        )
        .await;
        assert_eq!(
            r.status,
            400,
            "{:?}: {:?}",
            String::from_utf8_lossy(&body),
            r.body
        );
        assert_scim_error(&r, 400, Some("invalidSyntax"));
    }

    let missing = t
        .post("/Users", &json!({"displayName": "no userName"}))
        .await;
    assert_scim_error(&missing, 400, Some("invalidValue"));
    assert!(
        missing.body["detail"]
            .as_str()
            .unwrap()
            .contains("userName"),
        "the detail names the missing attribute: {:?}",
        missing.body
    );
    for body in [
        json!({"userName": ""}),
        json!({"userName": "wrong-active", "active": 3}),
        json!({"userName": "wrong-emails", "emails": "x"}),
        json!({"userName": "wrong-emails2", "emails": [{"value": 5}]}),
        json!({"userName": 42}),
        json!({"userName": "wrong-name", "name": "Ann"}),
        json!({"userName": "wrong-ext", ENTERPRISE_URN: "x"}),
    ] {
        let r = t.post("/Users", &body).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_scim_error(&r, 400, Some("invalidValue"));
    }
    assert_eq!(
        t.get("/Users").await.body["totalResults"],
        0,
        "nothing was created"
    );

    // PUT and PATCH parse their bodies the same way.
    let id = t.user("target", json!({})).await;
    let path = format!("/Users/{id}");
    let r = send_raw(
        &t,
        Method::PUT,
        &path,
        "application/scim+json",
        b"{".to_vec(),
    )
    .await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    let r = t
        .put(&path, &json!({"userName": "target", "active": 3}))
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = send_raw(
        &t,
        Method::PATCH,
        &path,
        "application/scim+json",
        b"{".to_vec(),
    )
    .await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
}

async fn body_over_one_mebibyte_gets_413(app: TestApp) {
    let t = app.tenant().await;
    let big = json!({"userName": "big", "displayName": "x".repeat(1024 * 1024 + 10)});
    let r = t.post("/Users", &big).await;
    assert_scim_error(&r, 413, None);
    assert_eq!(t.user_ids("userName eq \"big\"").await.len(), 0);
    // The server still answers.
    assert_eq!(t.get("/Users").await.status, 200);
    // PUT and PATCH have the same limit.
    let id = t.user("small", json!({})).await;
    let r = t
        .put(
            &format!("/Users/{id}"),
            &json!({"userName": "small", "title": "x".repeat(1024 * 1024)}),
        )
        .await;
    assert_scim_error(&r, 413, None);
    let r = t
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "title", "value": "x".repeat(1024 * 1024)}]),
        )
        .await;
    assert_scim_error(&r, 413, None);
    assert!(t
        .get(&format!("/Users/{id}"))
        .await
        .body
        .get("title")
        .is_none());
    // Just under the limit is fine (the bulk of it in an attribute muster ignores, so that
    // only the size limit is tested here).
    let blob = "x".repeat(1024 * 1024 - 200);
    let fits = json!({"userName": "fits", "urn:example:ignored": {"blob": blob}});
    assert!(fits.to_string().len() < 1024 * 1024);
    let r = t.post("/Users", &fits).await;
    assert_eq!(r.status, 201, "{:?}", short(&r.body));
}

async fn unknown_routes_get_scim_404(app: TestApp) {
    let t = app.tenant().await;
    for path in [
        "/Nope".to_owned(),
        format!("/{}", uuid::Uuid::new_v4()),
        "/Users/a/b".to_owned(),
        "/v2/Users".to_owned(),
    ] {
        let r = t.get(&path).await;
        assert_eq!(r.status, 404, "{path}: {:?}", r.body);
        assert_scim_error(&r, 404, None);
    }
    for path in ["/nope", "/scim/v2", "/scim/v1/x/Users"] {
        let r = t.send(app.client.get(format!("{}{path}", app.url))).await;
        assert_eq!(r.status, 404, "{path}: {:?}", r.body);
        assert_scim_error(&r, 404, None);
    }
    // Unknown ids on real endpoints.
    let r = t.get(&format!("/Users/{}", uuid::Uuid::new_v4())).await;
    assert_scim_error(&r, 404, None);
    let r = t.get(&format!("/Groups/{}", uuid::Uuid::new_v4())).await;
    assert_scim_error(&r, 404, None);
}

async fn discovery_endpoints_refuse_writes_with_405(app: TestApp) {
    let t = app.tenant().await;
    for path in [
        "/ServiceProviderConfig",
        "/Schemas",
        "/ResourceTypes",
        "/ResourceTypes/User",
        &format!("/Schemas/{USER_URN}"),
    ] {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let r = t
                .send(
                    t.req(method.clone(), path)
                        .header("content-type", "application/scim+json")
                        .body(json!({"schemas": [USER_URN]}).to_string()),
                )
                .await;
            assert_eq!(r.status, 405, "{method} {path}: {:?}", r.body);
            assert_scim_error(&r, 405, None);
        }
    }
    // GET still works afterwards, unchanged.
    let spc = t.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200);
    assert_eq!(spc.body["patch"]["supported"], true);
}

async fn me_answers_501(app: TestApp) {
    let t = app.tenant().await;
    for method in [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ] {
        let r = t
            .send(
                t.req(method.clone(), "/Me")
                    .header("content-type", "application/scim+json")
                    .body(json!({"userName": "me"}).to_string()),
            )
            .await;
        assert_eq!(r.status, 501, "{method} /Me: {:?}", r.body);
        assert_scim_error(&r, 501, None);
    }
    let r = t.get("/Me/anything").await;
    assert_scim_error(&r, 501, None);
    // Without a token, /Me is a 401 like everything else.
    let r = t.send(anonymous(&app, &t, Method::GET, "/Me")).await;
    assert_401(&r, "/Me without a token");
    assert_eq!(t.get("/Users").await.body["totalResults"], 0);
}

async fn hostile_input_never_gets_a_500(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("victim", json!({})).await;
    let user = format!("/Users/{id}");
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(
        "{{\"userName\": \"deep\", \"name\": {}1{}}}",
        "{\"a\":".repeat(5000),
        "}".repeat(5000)
    );
    let deep_filter = format!("{}userName eq \"x\"{}", "(".repeat(5000), ")".repeat(5000));
    // Random text: long values that do not compress away.
    let noise: String = (0..100)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    let long_filter = vec!["userName eq \"x\""; 500].join(" or ");
    let bodies: Vec<(&str, Method, String, Vec<u8>)> =
        vec![
        ("deeply nested array", Method::POST, "/Users".into(), deep_array.into_bytes()),
        ("deeply nested object", Method::POST, "/Users".into(), deep_object.into_bytes()),
        (
            "huge exponent",
            Method::POST,
            "/Users".into(),
            br#"{"userName": "num", "active": 1e999999}"#.to_vec(),
        ),
        (
            "huge integer as a string attribute",
            Method::POST,
            "/Users".into(),
            br#"{"userName": 123456789012345678901234567890123456789}"#.to_vec(),
        ),
        (
            "huge integer in an extension number",
            Method::POST,
            "/Users".into(),
            format!(
                r#"{{"userName": "bignum", "{ENTERPRISE_URN}": {{"employeeNumber": 1e400}}}}"#
            )
            .into_bytes(),
        ),
        ("invalid UTF-8", Method::POST, "/Users".into(), vec![b'{', b'"', 0xff, 0xfe, b'"', b'}']),
        (
            "invalid UTF-8 inside a string",
            Method::POST,
            "/Users".into(),
            [b"{\"userName\": \"".as_slice(), &[0xc3, 0x28], b"\"}"].concat(),
        ),
        (
            "lone surrogate escape",
            Method::POST,
            "/Users".into(),
            br#"{"userName": "\ud800"}"#.to_vec(),
        ),
        (
            "NUL in userName",
            Method::POST,
            "/Users".into(),
            br#"{"userName": "nul\u0000name"}"#.to_vec(),
        ),
        (
            "NUL in displayName by PATCH",
            Method::PATCH,
            user.clone(),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "a\u{0}b"}]})
            .to_string()
            .into_bytes(),
        ),
        (
            "NUL in an attribute name",
            Method::POST,
            "/Users".into(),
            br#"{"userName": "nulkey", "na\u0000me": {"givenName": "x"}}"#.to_vec(),
        ),
        (
            "100 kB userName",
            Method::POST,
            "/Users".into(),
            json!({"userName": "u".repeat(100_000)}).to_string().into_bytes(),
        ),
        (
            "3.6 kB incompressible userName",
            Method::POST,
            "/Users".into(),
            json!({"userName": noise.clone()}).to_string().into_bytes(),
        ),
        (
            "3.6 kB incompressible title",
            Method::POST,
            "/Users".into(),
            json!({"userName": "long-title", "title": noise.clone()}).to_string().into_bytes(),
        ),
        (
            "100 kB displayName and externalId",
            Method::POST,
            "/Users".into(),
            json!({"userName": "longattrs", "displayName": "d".repeat(100_000),
                "externalId": "e".repeat(100_000)})
            .to_string()
            .into_bytes(),
        ),
        (
            "emoji everywhere",
            Method::POST,
            "/Users".into(),
            json!({"userName": "😀🎉👩‍👩‍👧‍👦", "displayName": "🦀", "name": {"givenName": "𝕏"}})
                .to_string()
                .into_bytes(),
        ),
        (
            "thousands of emails",
            Method::POST,
            "/Users".into(),
            json!({"userName": "many-emails", "emails": (0..5000)
                .map(|i| json!({"value": format!("{i}@example.com")}))
                .collect::<Vec<_>>()})
            .to_string()
            .into_bytes(),
        ),
        (
            "PATCH with a garbage path",
            Method::PATCH,
            user.clone(),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "emails[[[type eq", "value": "x"}]})
            .to_string()
            .into_bytes(),
        ),
        (
            "PATCH Operations not an array",
            Method::PATCH,
            user.clone(),
            br#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": 7}"#
                .to_vec(),
        ),
        (
            "search with a deeply nested filter",
            Method::POST,
            "/Users/.search".into(),
            json!({"filter": deep_filter.clone()}).to_string().into_bytes(),
        ),
        (
            "search with a wrong-typed count",
            Method::POST,
            "/Users/.search".into(),
            json!({"count": {"a": 1}, "startIndex": [1, 2]}).to_string().into_bytes(),
        ),
        (
            "group member value that is an object",
            Method::POST,
            "/Groups".into(),
            json!({"displayName": "g", "members": [{"value": {"$ne": null}}]})
                .to_string()
                .into_bytes(),
        ),
    ];
    // Every case runs, and the failures are reported together.
    let mut failures = Vec::new();
    for (what, method, path, body) in bodies {
        let r = send_raw(&t, method.clone(), &path, "application/scim+json", body).await;
        let ok = (200..300).contains(&r.status)
            || ((400..500).contains(&r.status) && r.body["schemas"][0] == ERROR_URN);
        if !ok {
            failures.push(format!(
                "{what} ({method} {path}): {} {}",
                r.status,
                short(&r.body)
            ));
        }
    }

    let queries: Vec<(&str, String, Query)> = vec![
        (
            "huge startIndex",
            "/Users".into(),
            vec![("startIndex", "99999999999999999999".into())],
        ),
        (
            "huge count",
            "/Users".into(),
            vec![("count", "99999999999999999999".into())],
        ),
        (
            "max i64 startIndex",
            "/Users".into(),
            vec![("startIndex", i64::MAX.to_string())],
        ),
        (
            "min i64 startIndex",
            "/Users".into(),
            vec![("startIndex", i64::MIN.to_string())],
        ),
        (
            "negative count",
            "/Users".into(),
            vec![("count", "-5".into())],
        ),
        (
            "deeply nested filter",
            "/Users".into(),
            vec![("filter", deep_filter.clone())],
        ),
        (
            "five hundred clauses",
            "/Users".into(),
            vec![("filter", long_filter.clone())],
        ),
        (
            "NUL in a filter",
            "/Users".into(),
            vec![("filter", "userName eq \"a\u{0}b\"".into())],
        ),
        (
            "unterminated filter",
            "/Users".into(),
            vec![("filter", "userName eq \"".into())],
        ),
        (
            "SQL in a filter",
            "/Users".into(),
            vec![("filter", "userName eq \"x' OR '1'='1\"".into())],
        ),
        (
            "huge number in a filter",
            "/Users".into(),
            vec![("filter", "meta.version gt 1e99999".into())],
        ),
        (
            "emoji filter",
            "/Users".into(),
            vec![("filter", "displayName co \"🦀\"".into())],
        ),
        (
            "bad sortBy",
            "/Users".into(),
            vec![("sortBy", "emails[type eq \"work\"].value".into())],
        ),
        (
            "bad attributes",
            "/Users".into(),
            vec![("attributes", "a.b.c.d.e,,,::".into())],
        ),
        (
            "root with deep filter",
            String::new(),
            vec![("filter", deep_filter.clone())],
        ),
        (
            "groups with NUL filter",
            "/Groups".into(),
            vec![("filter", "displayName sw \"\u{0}\"".into())],
        ),
    ];
    for (what, path, query) in queries {
        let r = t.send(t.req(Method::GET, &path).query(&query)).await;
        let ok = (200..300).contains(&r.status)
            || ((400..500).contains(&r.status) && r.body["schemas"][0] == ERROR_URN);
        if !ok {
            failures.push(format!(
                "{what} (GET {path}): {} {}",
                r.status,
                short(&r.body)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "answers outside 2xx/4xx:\n{}",
        failures.join("\n")
    );

    // The server still answers normally.
    let r = t.get(&user).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["userName"], "victim");
    assert_eq!(t.get("/Users").await.status, 200);
}

/// Query parameters of a hostile GET.
type Query = Vec<(&'static str, String)>;

/// A response body, cut short for assertion messages.
fn short(v: &Value) -> String {
    v.to_string().chars().take(300).collect()
}

async fn service_provider_config_advertises_every_feature(app: TestApp) {
    let t = app.tenant().await;
    let r = t.get("/ServiceProviderConfig").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/scim+json")
    );
    let b = &r.body;
    assert_eq!(
        b["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    for feature in ["patch", "bulk", "filter", "changePassword", "sort", "etag"] {
        assert!(
            b[feature]["supported"].is_boolean(),
            "{feature}.supported: {b:?}"
        );
    }
    assert_eq!(b["patch"]["supported"], true);
    assert_eq!(b["etag"]["supported"], true);
    assert_eq!(b["bulk"]["supported"], true);
    assert_eq!(b["bulk"]["maxOperations"], 1000);
    assert_eq!(b["bulk"]["maxPayloadSize"], 1_048_576);
    assert_eq!(b["filter"]["supported"], true);
    assert!(b["filter"]["maxResults"].as_u64().is_some_and(|n| n > 0));
    let schemes = b["authenticationSchemes"]
        .as_array()
        .expect("authenticationSchemes");
    assert!(!schemes.is_empty());
    for s in schemes {
        for key in ["type", "name", "description"] {
            assert!(
                s[key].as_str().is_some_and(|v| !v.is_empty()),
                "{key}: {s:?}"
            );
        }
    }
    assert!(schemes.iter().any(|s| s["type"] == "oauthbearertoken"));
    assert_eq!(b["meta"]["resourceType"], "ServiceProviderConfig");

    // maxResults is what a list really honours.
    let max = b["filter"]["maxResults"].as_u64().unwrap();
    let r = t
        .send(
            t.req(Method::GET, "/Users")
                .query(&[("count", (max + 500).to_string())]),
        )
        .await;
    assert_eq!(r.status, 200);
}

async fn resource_types_list_user_and_group(app: TestApp) {
    let t = app.tenant().await;
    let r = t.get("/ResourceTypes").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    let items = r.body["Resources"].as_array().expect("Resources");
    assert_eq!(r.body["totalResults"], items.len());
    let user = items.iter().find(|rt| rt["id"] == "User").expect("User");
    let group = items.iter().find(|rt| rt["id"] == "Group").expect("Group");
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schema"], USER_URN);
    assert!(
        user["schemaExtensions"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x["schema"] == ENTERPRISE_URN)),
        "{user:?}"
    );
    assert_eq!(group["endpoint"], "/Groups");
    assert_eq!(group["schema"], GROUP_URN);

    let one = t.get("/ResourceTypes/User").await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["id"], "User");
    assert_eq!(one.body["schema"], USER_URN);
    assert!(one.body.get("Resources").is_none(), "a single object");
    assert_eq!(
        t.get("/ResourceTypes/Group").await.body["endpoint"],
        "/Groups"
    );

    assert_scim_error(&t.get("/ResourceTypes/Nope").await, 404, None);
}

async fn schemas_list_every_schema_and_find_one_by_urn(app: TestApp) {
    let t = app.tenant().await;
    let r = t.get("/Schemas").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let items = r.body["Resources"].as_array().expect("Resources");
    assert_eq!(r.body["totalResults"], items.len());
    let ids: Vec<&str> = items.iter().filter_map(|s| s["id"].as_str()).collect();
    for urn in [
        USER_URN,
        GROUP_URN,
        ENTERPRISE_URN,
        "urn:ietf:params:scim:schemas:core:2.0:Schema",
        "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
    ] {
        assert!(ids.contains(&urn), "{urn} in {ids:?}");
    }
    for s in items {
        assert!(
            s["attributes"].as_array().is_some_and(|a| !a.is_empty()),
            "{}",
            s["id"]
        );
    }

    let user = t.get(&format!("/Schemas/{USER_URN}")).await;
    assert_eq!(user.status, 200, "{:?}", user.body);
    assert_eq!(user.body["id"], USER_URN);
    let attrs = user.body["attributes"].as_array().expect("attributes");
    let user_name = attrs
        .iter()
        .find(|a| a["name"] == "userName")
        .expect("userName");
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["uniqueness"], "server");

    let ent = t.get(&format!("/Schemas/{ENTERPRISE_URN}")).await;
    assert_eq!(ent.status, 200);
    assert_eq!(ent.body["id"], ENTERPRISE_URN);

    for unknown in [
        "urn:ietf:params:scim:schemas:core:2.0:Nope".to_owned(),
        "Nope".to_owned(),
    ] {
        assert_scim_error(&t.get(&format!("/Schemas/{unknown}")).await, 404, None);
    }
}

/// Every `meta.location` in a value.
fn locations(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(l)) = o.get("meta").and_then(|m| m.get("location")) {
                out.push(l.clone());
            }
            o.values().for_each(|x| locations(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| locations(x, out)),
        _ => {}
    }
}

async fn meta_locations_start_with_the_tenant_base_url(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("located", json!({})).await;
    let g = t.group("located-group", &[&id]).await;
    let base = format!("{}/", t.scim);
    let mut all = Vec::new();
    for path in [
        "/ServiceProviderConfig".to_owned(),
        "/ResourceTypes".to_owned(),
        "/ResourceTypes/User".to_owned(),
        "/Schemas".to_owned(),
        format!("/Schemas/{USER_URN}"),
        "/Users".to_owned(),
        "/Groups".to_owned(),
        String::new(),
    ] {
        let r = t.get(&path).await;
        assert_eq!(r.status, 200, "{path}");
        let mut found = Vec::new();
        locations(&r.body, &mut found);
        assert!(!found.is_empty(), "{path} has meta.location: {:?}", r.body);
        all.extend(found);
    }
    for l in &all {
        assert!(l.starts_with(&base), "{l} starts with {base}");
    }
    let user = t.get(&format!("/Users/{id}")).await;
    assert_eq!(
        user.body["meta"]["location"],
        format!("{}/Users/{id}", t.scim)
    );
    assert_eq!(
        t.get("/ResourceTypes/User").await.body["meta"]["location"],
        format!("{}/ResourceTypes/User", t.scim)
    );
    let group = t.get(&format!("/Groups/{g}")).await;
    assert_eq!(
        group.body["meta"]["location"],
        format!("{}/Groups/{g}", t.scim)
    );
}

async fn application_json_requests_are_accepted_and_answers_are_scim_json(app: TestApp) {
    let t = app.tenant().await;
    let json_ct = "application/json; charset=utf-8";
    let created = send_raw(
        &t,
        Method::POST,
        "/Users",
        "application/json",
        json!({"userName": "plain-json"}).to_string().into_bytes(),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    let put = send_raw(
        &t,
        Method::PUT,
        &path,
        json_ct,
        json!({"userName": "plain-json", "title": "t"})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let patch = send_raw(
        &t,
        Method::PATCH,
        &path,
        "application/json",
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "u"}]})
        .to_string()
        .into_bytes(),
    )
    .await;
    assert_eq!(patch.status, 200, "{:?}", patch.body);
    assert_eq!(patch.body["title"], "u");
    let search = send_raw(
        &t,
        Method::POST,
        "/Users/.search",
        "application/json",
        json!({"filter": "userName eq \"plain-json\""})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(search.status, 200, "{:?}", search.body);
    assert_eq!(search.body["totalResults"], 1);

    // Whatever came in, and whether it succeeded or not, the answer is application/scim+json.
    let answers = [
        ("POST", created),
        ("PUT", put),
        ("PATCH", patch),
        (".search", search),
        ("GET", t.get(&path).await),
        ("list", t.get("/Users").await),
        ("root", t.get("").await),
        (
            "ServiceProviderConfig",
            t.get("/ServiceProviderConfig").await,
        ),
        ("Schemas", t.get("/Schemas").await),
        ("ResourceTypes", t.get("/ResourceTypes").await),
        ("404", t.get("/Nope").await),
        ("400", t.post("/Users", &json!({})).await),
        ("401", with_token(&t, "x").get("/Users").await),
        ("405", t.post("/Schemas", &json!({})).await),
        ("501", t.get("/Me").await),
    ];
    for (what, r) in answers {
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/scim+json"),
            "{what}: {:?}",
            r.body
        );
    }
    // An Accept header asking for plain JSON still gets a JSON body.
    let r = t
        .send(
            t.req(Method::GET, &path)
                .header("accept", "application/json"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["userName"], "plain-json");
}
