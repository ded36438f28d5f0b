//! The admin API (/admin/v1): every endpoint, as a platform admin, a tenant admin and a member
//! would use it, with the refusals each of them must get.

use crate::peers;
use crate::util::{Tenant, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// A caller of the admin API.
#[derive(Clone, Copy)]
enum As<'a> {
    Nobody,
    Bearer(&'a str),
    /// The tenant's session cookie, with the `Origin` header given (if any).
    Session(&'a str, &'a str, Option<&'a str>),
}

async fn call(
    app: &TestApp,
    who: As<'_>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = app
        .client
        .request(method, format!("{}/admin/v1{path}", app.url));
    match who {
        As::Nobody => {}
        As::Bearer(b) => rb = rb.bearer_auth(b),
        As::Session(tenant, sid, origin) => {
            rb = rb.header("cookie", format!("muster_session_{tenant}={sid}"));
            if let Some(o) = origin {
                rb = rb.header("origin", o);
            }
        }
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get(app: &TestApp, who: As<'_>, path: &str) -> (u16, Value) {
    call(app, who, Method::GET, path, None).await
}

/// Asserts an error answer: status, stable code, and the field when one is named.
fn refused(got: &(u16, Value), status: u16, code: &str, field: Option<&str>) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["code"], code, "{}", got.1);
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        got.1
    );
    assert_eq!(got.1["field"].as_str(), field, "{}", got.1);
}

async fn admin_token(app: &TestApp) -> String {
    let name = format!("ops-{}", uuid::Uuid::new_v4().simple());
    app.state
        .db
        .run(move |c| muster::auth::admin_tokens::create(c, &name))
        .await
        .unwrap()
}

/// A session of a user of the tenant (as a sign-in would make), by userName.
async fn session(app: &TestApp, t: &Tenant, user_id: &str) -> String {
    let (slug, uid) = (t.slug.clone(), user_id.to_owned());
    app.state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            muster::auth::session::create(c, &tid, &uid.as_str().into(), None)
        })
        .await
        .unwrap()
}

/// A user of the tenant with a role, signed in, and a personal access token made through the
/// API with their session.
async fn person(app: &TestApp, t: &Tenant, name: &str, role: &str) -> (String, String) {
    let id = t
        .user(name, json!({"emails": [{"value": name, "primary": true}]}))
        .await;
    let (slug, uid, r) = (t.slug.clone(), id.clone(), role.to_owned());
    app.state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            muster::people::users::set_role(c, &tid, &uid.as_str().into(), r.parse().unwrap())
        })
        .await
        .unwrap();
    let sid = session(app, t, &id).await;
    let made = call(
        app,
        As::Session(&t.slug, &sid, Some(&app.url)),
        Method::POST,
        &format!("/tenants/{}/me/tokens", t.slug),
        Some(json!({"name": "laptop"})),
    )
    .await;
    assert_eq!(made.0, 201, "{}", made.1);
    let token = made.1["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mst_pat_"));
    // Without `days` the server's default lifetime applies: no token works for ever.
    let expires = time::OffsetDateTime::parse(
        made.1["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((89 * 24..=90 * 24).contains(&days), "{}", made.1);
    (id, token)
}

/// The document lists every endpoint, and every endpoint it lists refuses a caller without
/// credentials in the API's error form (so no route is unlisted or unprotected by accident).
async fn openapi_lists_every_endpoint_and_each_wants_credentials(app: TestApp) {
    let r = app
        .client
        .get(format!("{}/admin/v1/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            operations.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    for expected in [
        "GET /admin/v1/tenants",
        "POST /admin/v1/tenants",
        "PATCH /admin/v1/tenants/{tenant}",
        "POST /admin/v1/tenants/{tenant}/idps",
        "POST /admin/v1/tenants/{tenant}/scim-tokens",
        "GET /admin/v1/tenants/{tenant}/users",
        "DELETE /admin/v1/tenants/{tenant}/users/{id}",
        "POST /admin/v1/tenants/{tenant}/users/{id}/password-reset",
        "POST /admin/v1/tenants/{tenant}/invites",
        "GET /admin/v1/tenants/{tenant}/groups/{id}",
        "PUT /admin/v1/tenants/{tenant}/templates/{kind}",
        "POST /admin/v1/tenants/{tenant}/me/tokens",
        "POST /admin/v1/keys/rotate",
        "POST /admin/v1/admin-tokens",
    ] {
        assert!(
            operations.contains(&expected.to_owned()),
            "{expected} missing from {operations:?}"
        );
    }
    assert!(operations.len() >= 45, "{operations:?}");
    assert!(doc["components"]["schemas"]["ApiError"].is_object());
    for op in &operations {
        let (method, path) = op.split_once(' ').unwrap();
        let concrete = path
            .replace("/admin/v1", "")
            .replace("{tenant}", "acme")
            .replace("{kind}", "invite")
            .replace(['{', '}'], "");
        let got = call(
            &app,
            As::Nobody,
            method.parse().unwrap(),
            &concrete,
            Some(json!({})),
        )
        .await;
        refused(&got, 401, "unauthenticated", None);
    }
}

async fn platform_admin_sets_up_a_tenant(app: TestApp) {
    let admin = admin_token(&app).await;
    let me = As::Bearer(&admin);
    let slug = format!("a{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);

    // Tenants.
    let made = call(
        &app,
        me,
        Method::POST,
        "/tenants",
        Some(json!({"slug": slug, "name": "Acme", "mode": "scim"})),
    )
    .await;
    assert_eq!(made.0, 201, "{}", made.1);
    assert_eq!(
        made.1["scim_base_url"],
        format!("{}/scim/v2/{slug}", app.url)
    );
    refused(
        &call(
            &app,
            me,
            Method::POST,
            "/tenants",
            Some(json!({"slug": slug})),
        )
        .await,
        409,
        "already_exists",
        None,
    );
    refused(
        &call(
            &app,
            me,
            Method::POST,
            "/tenants",
            Some(json!({"slug": "Not Ok"})),
        )
        .await,
        422,
        "invalid",
        Some("slug"),
    );
    refused(
        &call(
            &app,
            me,
            Method::POST,
            "/tenants",
            Some(json!({"slug": "ok-x", "mode": "magic"})),
        )
        .await,
        422,
        "invalid",
        Some("mode"),
    );
    refused(
        &call(
            &app,
            me,
            Method::POST,
            "/tenants",
            Some(json!({"slug": "ok-y", "colour": 1})),
        )
        .await,
        422,
        "invalid",
        Some("colour"),
    );
    refused(
        &call(
            &app,
            me,
            Method::POST,
            "/tenants",
            Some(json!({"name": "no slug"})),
        )
        .await,
        422,
        "invalid",
        Some("slug"),
    );
    let list = get(&app, me, "/tenants").await;
    assert!(list
        .1
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["slug"] == slug.as_str()));
    assert_eq!(
        get(&app, me, &format!("/tenants/{slug}")).await.1["name"],
        "Acme"
    );
    refused(
        &get(&app, me, "/tenants/nope-nope").await,
        404,
        "not_found",
        None,
    );
    let changed = call(
        &app,
        me,
        Method::PATCH,
        &format!("/tenants/{slug}"),
        Some(json!({"mode": "jit"})),
    )
    .await;
    assert_eq!(changed.1["mode"], "jit", "{}", changed.1);
    call(
        &app,
        me,
        Method::PATCH,
        &format!("/tenants/{slug}"),
        Some(json!({"mode": "scim"})),
    )
    .await;

    // return_to prefixes.
    let t = format!("/tenants/{slug}");
    assert_eq!(
        call(
            &app,
            me,
            Method::POST,
            &format!("{t}/redirects"),
            Some(json!({"prefix": "https://app.example/"}))
        )
        .await
        .0,
        201
    );
    assert_eq!(
        get(&app, me, &format!("{t}/redirects")).await.1,
        json!([{"prefix": "https://app.example/"}])
    );
    let gone = call(
        &app,
        me,
        Method::DELETE,
        &format!("{t}/redirects?prefix=https%3A%2F%2Fapp.example%2F"),
        None,
    )
    .await;
    assert_eq!(gone.0, 204, "{}", gone.1);
    assert_eq!(get(&app, me, &format!("{t}/redirects")).await.1, json!([]));

    // SCIM tokens: shown once, work on SCIM, listed without the secret, revoked for good.
    let tok = call(
        &app,
        me,
        Method::POST,
        &format!("{t}/scim-tokens"),
        Some(json!({"name": "okta"})),
    )
    .await;
    assert_eq!(tok.0, 201, "{}", tok.1);
    let secret = tok.1["token"].as_str().unwrap().to_owned();
    let scim = |bearer: String| {
        let url = format!("{}/scim/v2/{slug}/Users", app.url);
        let client = app.client.clone();
        async move {
            client
                .get(url)
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(scim(secret.clone()).await, 200);
    let listed = get(&app, me, &format!("{t}/scim-tokens")).await;
    assert_eq!(listed.1[0]["name"], "okta");
    assert!(!listed.1.to_string().contains(&secret));
    refused(
        &call(
            &app,
            me,
            Method::POST,
            &format!("{t}/scim-tokens"),
            Some(json!({"name": "okta"})),
        )
        .await,
        409,
        "already_exists",
        None,
    );
    assert_eq!(
        call(
            &app,
            me,
            Method::DELETE,
            &format!("{t}/scim-tokens/okta"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(scim(secret).await, 401);
    refused(
        &call(
            &app,
            me,
            Method::DELETE,
            &format!("{t}/scim-tokens/okta"),
            None,
        )
        .await,
        404,
        "not_found",
        None,
    );

    // OAuth clients.
    let client = call(
        &app,
        me,
        Method::POST,
        &format!("{t}/clients"),
        Some(json!({"name": "entra"})),
    )
    .await;
    assert_eq!(client.0, 201, "{}", client.1);
    let (cid, csecret) = (
        client.1["client_id"].as_str().unwrap(),
        client.1["client_secret"].as_str().unwrap(),
    );
    let grant = app
        .client
        .post(client.1["token_url"].as_str().unwrap())
        .basic_auth(cid, Some(csecret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 200);
    let listed = get(&app, me, &format!("{t}/clients")).await;
    assert_eq!(listed.1[0]["client_id"], cid);
    assert!(!listed.1.to_string().contains(csecret));
    assert_eq!(
        call(
            &app,
            me,
            Method::DELETE,
            &format!("{t}/clients/entra"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(get(&app, me, &format!("{t}/clients")).await.1, json!([]));

    // Identity providers: checked against the provider, the secret never comes back.
    refused(
        &call(&app, me, Method::POST, &format!("{t}/idps"), Some(json!({"slug": "x", "title": "X", "kind": "oidc", "issuer": "http://127.0.0.1:9/", "client_id": "a", "client_secret": "b"}))).await,
        422,
        "invalid",
        Some("issuer"),
    );
    refused(
        &call(&app, me, Method::POST, &format!("{t}/idps"), Some(json!({"slug": "x", "title": "X", "kind": "oidc", "issuer": "http://127.0.0.1:9/", "client_id": "a"}))).await,
        422,
        "invalid",
        Some("client_secret"),
    );
    refused(
        &call(
            &app,
            me,
            Method::POST,
            &format!("{t}/idps"),
            Some(json!({"slug": "x", "title": "X", "kind": "ldap"})),
        )
        .await,
        422,
        "invalid",
        Some("kind"),
    );
    let oidc = peers::oidc(&[format!("{}/t/{slug}/sso/okta/callback", app.url)]);
    let added = call(
        &app,
        me,
        Method::POST,
        &format!("{t}/idps"),
        Some(json!({"slug": "okta", "title": "Okta", "kind": "oidc", "issuer": oidc.url, "client_id": "muster", "client_secret": "muster-secret"})),
    )
    .await;
    assert_eq!(added.0, 201, "{}", added.1);
    // A first sign-in links by an address the provider verified, unless the admin says else.
    assert_eq!(
        (added.1["link_by"].clone(), added.1["trust_email"].clone()),
        (json!("email"), json!(false))
    );
    assert_eq!(
        added.1["redirect_uri"],
        format!("{}/t/{slug}/sso/okta/callback", app.url)
    );
    let saml = peers::saml();
    let added = call(
        &app,
        me,
        Method::POST,
        &format!("{t}/idps"),
        Some(json!({"slug": "entra", "title": "Entra", "kind": "saml", "metadata_url": format!("{}/metadata", saml.url), "trust_email": true})),
    )
    .await;
    assert_eq!(added.0, 201, "{}", added.1);
    assert_eq!(added.1["trust_email"], true);
    assert_eq!(
        added.1["acs_url"],
        format!("{}/t/{slug}/sso/entra/acs", app.url)
    );
    refused(
        &call(&app, me, Method::POST, &format!("{t}/idps"), Some(json!({"slug": "bad", "title": "Bad", "kind": "saml", "metadata_xml": "<not-metadata/>"}))).await,
        422,
        "invalid",
        Some("metadata_xml"),
    );
    let idps = get(&app, me, &format!("{t}/idps")).await;
    assert_eq!(idps.1.as_array().unwrap().len(), 2);
    assert!(!idps.1.to_string().contains("muster-secret"), "{}", idps.1);
    let patched = call(
        &app,
        me,
        Method::PATCH,
        &format!("{t}/idps/okta"),
        Some(json!({"active": false, "mapping": {"userName": ["preferred_username", "email"]}})),
    )
    .await;
    assert_eq!(patched.0, 200, "{}", patched.1);
    assert_eq!(patched.1["active"], false);
    let relinked = call(
        &app,
        me,
        Method::PATCH,
        &format!("{t}/idps/okta"),
        Some(json!({"link_by": "userName"})),
    )
    .await;
    assert_eq!(relinked.1["link_by"], "userName", "{}", relinked.1);
    refused(
        &call(
            &app,
            me,
            Method::PATCH,
            &format!("{t}/idps/okta"),
            Some(json!({"link_by": "nickname"})),
        )
        .await,
        422,
        "invalid",
        Some("link_by"),
    );
    assert_eq!(
        patched.1["mapping"]["userName"],
        json!(["preferred_username", "email"])
    );
    let login = app
        .client
        .get(format!("{}/t/{slug}/login", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !login.contains("Log in with Okta"),
        "a disabled provider's button is hidden"
    );
    assert_eq!(
        call(&app, me, Method::DELETE, &format!("{t}/idps/okta"), None)
            .await
            .0,
        204
    );
    refused(
        &call(&app, me, Method::DELETE, &format!("{t}/idps/okta"), None).await,
        404,
        "not_found",
        None,
    );

    // Email templates: a part that does not render is refused by name.
    let tpl = get(&app, me, &format!("{t}/templates/invite")).await;
    assert_eq!(tpl.1["custom"], false);
    refused(
        &call(
            &app,
            me,
            Method::PUT,
            &format!("{t}/templates/invite"),
            Some(json!({"html": "<p>{{ no_such_value }}</p>"})),
        )
        .await,
        422,
        "invalid",
        Some("html"),
    );
    let set = call(
        &app,
        me,
        Method::PUT,
        &format!("{t}/templates/invite"),
        Some(json!({"subject": "Join {{ tenant_name }}"})),
    )
    .await;
    assert_eq!(set.0, 200, "{}", set.1);
    assert_eq!(
        (set.1["custom"].clone(), set.1["subject"].clone()),
        (json!(true), json!("Join {{ tenant_name }}"))
    );
    refused(
        &get(&app, me, &format!("{t}/templates/sms")).await,
        404,
        "not_found",
        None,
    );
    let reset = call(
        &app,
        me,
        Method::DELETE,
        &format!("{t}/templates/invite"),
        None,
    )
    .await;
    assert_eq!(reset.1["custom"], false);

    // Platform admin tokens: made, listed without the secret, revoked.
    let made = call(
        &app,
        me,
        Method::POST,
        "/admin-tokens",
        Some(json!({"name": format!("ci-{slug}")})),
    )
    .await;
    assert_eq!(made.0, 201, "{}", made.1);
    let ci = made.1["token"].as_str().unwrap().to_owned();
    assert_eq!(get(&app, As::Bearer(&ci), "/keys").await.0, 200);
    let listed = get(&app, me, "/admin-tokens").await;
    assert!(
        listed.1.to_string().contains(&format!("ci-{slug}")) && !listed.1.to_string().contains(&ci)
    );
    assert_eq!(
        call(
            &app,
            me,
            Method::DELETE,
            &format!("/admin-tokens/ci-{slug}"),
            None
        )
        .await
        .0,
        204
    );
    refused(
        &get(&app, As::Bearer(&ci), "/keys").await,
        401,
        "unauthenticated",
        None,
    );

    // Signing keys.
    let before = get(&app, me, "/keys").await.1.as_array().unwrap().len();
    let rotated = call(&app, me, Method::POST, "/keys/rotate", None).await;
    assert_eq!(rotated.0, 201);
    let keys = get(&app, me, "/keys").await;
    assert!(keys.1.as_array().unwrap().len() > before.min(1));
    assert!(keys
        .1
        .to_string()
        .contains(rotated.1["kid"].as_str().unwrap()));
}

async fn admins_manage_people(app: TestApp) {
    let t = app.tenant().await;
    let admin = admin_token(&app).await;
    let me = As::Bearer(&admin);
    let base = format!("/tenants/{}", t.slug);
    for i in 0..5 {
        t.user(&format!("user{i}@acme.test"), json!({"displayName": format!("Person {i}"), "emails": [{"value": format!("u{i}@mail.acme.test")}]})).await;
    }
    let in_group = t.user("grouped@acme.test", json!({})).await;
    let gid = t.group("Engineering", &[&in_group]).await;

    // Paging covers everyone once, in userName order.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let q = after
            .as_deref()
            .map(|a| format!("&after={a}"))
            .unwrap_or_default();
        let page = get(&app, me, &format!("{base}/users?limit=2{q}")).await;
        assert_eq!(page.0, 200, "{}", page.1);
        for u in page.1["items"].as_array().unwrap() {
            seen.push(u["user_name"].as_str().unwrap().to_owned());
        }
        match page.1["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    // Search by part of an email address, a userName, a display name; any case.
    let found = get(&app, me, &format!("{base}/users?q=U3@MAIL")).await;
    assert_eq!(found.1["items"].as_array().unwrap().len(), 1, "{}", found.1);
    assert_eq!(found.1["items"][0]["user_name"], "user3@acme.test");
    assert_eq!(
        get(&app, me, &format!("{base}/users?q=person%204")).await.1["items"][0]["user_name"],
        "user4@acme.test"
    );
    assert_eq!(
        get(&app, me, &format!("{base}/users?q=50%25")).await.1["items"],
        json!([])
    );
    refused(
        &get(&app, me, &format!("{base}/users?limit=0")).await,
        422,
        "invalid",
        Some("limit"),
    );
    refused(
        &get(&app, me, &format!("{base}/users?after=%%%")).await,
        422,
        "invalid",
        Some("after"),
    );
    refused(
        &get(&app, me, &format!("{base}/users?role=boss")).await,
        422,
        "invalid",
        Some("role"),
    );

    // One user; deactivate, reactivate, role.
    let uid = found.1["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&app, me, &format!("{base}/users/{uid}")).await.1["email"],
        "u3@mail.acme.test"
    );
    refused(
        &get(&app, me, &format!("{base}/users/no-such-id")).await,
        404,
        "not_found",
        None,
    );
    let off = call(
        &app,
        me,
        Method::PATCH,
        &format!("{base}/users/{uid}"),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(off.1["active"], false, "{}", off.1);
    let scim = t.get(&format!("/Users/{uid}")).await;
    assert_eq!(scim.body["active"], false, "SCIM sees the deactivation");
    assert_eq!(
        get(&app, me, &format!("{base}/users?active=false")).await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let on = call(
        &app,
        me,
        Method::PATCH,
        &format!("{base}/users/{uid}"),
        Some(json!({"active": true, "role": "admin"})),
    )
    .await;
    assert_eq!(
        (on.1["active"].clone(), on.1["role"].clone()),
        (json!(true), json!("admin"))
    );
    assert_eq!(
        get(&app, me, &format!("{base}/users?role=admin")).await.1["items"][0]["id"],
        uid.as_str()
    );
    refused(
        &call(
            &app,
            me,
            Method::PATCH,
            &format!("{base}/users/{uid}"),
            Some(json!({"role": "owner"})),
        )
        .await,
        422,
        "invalid",
        Some("role"),
    );

    // Delete follows the group rule.
    let blocked = call(
        &app,
        me,
        Method::DELETE,
        &format!("{base}/users/{in_group}"),
        None,
    )
    .await;
    refused(&blocked, 409, "conflict", None);
    assert!(blocked.1["message"]
        .as_str()
        .unwrap()
        .contains("Engineering"));
    assert_eq!(
        call(
            &app,
            me,
            Method::DELETE,
            &format!("{base}/users/{uid}"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(t.get(&format!("/Users/{uid}")).await.status, 404);

    // Groups.
    let groups = get(&app, me, &format!("{base}/groups?q=engin")).await;
    assert_eq!(groups.1["items"][0]["member_count"], 1, "{}", groups.1);
    let group = get(&app, me, &format!("{base}/groups/{gid}")).await;
    assert_eq!(group.1["display_name"], "Engineering");
    assert_eq!(
        group.1["members"],
        json!([{"id": in_group, "type": "User", "display": "grouped@acme.test"}])
    );
    refused(
        &get(&app, me, &format!("{base}/groups/nope")).await,
        404,
        "not_found",
        None,
    );

    // Invitations, and a password reset for the person who accepted one.
    refused(
        &call(
            &app,
            me,
            Method::POST,
            &format!("{base}/invites"),
            Some(json!({"email": "not an address"})),
        )
        .await,
        422,
        "invalid",
        Some("email"),
    );
    refused(
        &call(
            &app,
            me,
            Method::POST,
            &format!("{base}/invites"),
            Some(json!({"email": "a@b.test", "days": 0})),
        )
        .await,
        422,
        "invalid",
        Some("days"),
    );
    let inv = call(
        &app,
        me,
        Method::POST,
        &format!("{base}/invites"),
        Some(json!({"email": "new@acme.test", "send_email": false, "role": "admin"})),
    )
    .await;
    assert_eq!(inv.0, 201, "{}", inv.1);
    let link = inv.1["link"].as_str().unwrap().to_owned();
    let new_id = inv.1["user_id"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&app, me, &format!("{base}/users/{new_id}")).await.1["role"],
        "admin"
    );
    let emailed = call(
        &app,
        me,
        Method::POST,
        &format!("{base}/invites"),
        Some(json!({"email": "other@acme.test"})),
    )
    .await;
    assert_eq!(
        emailed.1["link"],
        Value::Null,
        "an emailed link is not handed out too"
    );
    let invites = get(&app, me, &format!("{base}/invites")).await;
    assert_eq!(invites.1.as_array().unwrap().len(), 2);
    assert_eq!(
        call(
            &app,
            me,
            Method::DELETE,
            &format!("{base}/invites/other@acme.test"),
            None
        )
        .await
        .0,
        204
    );
    refused(
        &call(
            &app,
            me,
            Method::DELETE,
            &format!("{base}/invites/other@acme.test"),
            None,
        )
        .await,
        404,
        "not_found",
        None,
    );
    let accepted = app
        .client
        .post(&link)
        .header("origin", &app.url)
        .form(&[
            ("password", "a long enough password"),
            ("confirm", "a long enough password"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        accepted.status().is_success() || accepted.status().is_redirection(),
        "{}",
        accepted.status()
    );
    let states = get(&app, me, &format!("{base}/invites")).await;
    assert!(states.1.to_string().contains("accepted"), "{}", states.1);
    let reset = call(
        &app,
        me,
        Method::POST,
        &format!("{base}/users/{new_id}/password-reset"),
        Some(json!({"send_email": false})),
    )
    .await;
    assert_eq!(reset.0, 201, "{}", reset.1);
    assert!(reset.1["link"]
        .as_str()
        .unwrap()
        .contains(&format!("/t/{}/reset/", t.slug)));
    let sso_only = get(&app, me, &format!("{base}/users?q=user1")).await.1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        &call(
            &app,
            me,
            Method::POST,
            &format!("{base}/users/{sso_only}/password-reset"),
            Some(json!({})),
        )
        .await,
        409,
        "conflict",
        None,
    );
}

async fn tenant_admins_and_members_stay_in_their_lane(app: TestApp) {
    let t = app.tenant().await;
    let other = app.tenant().await;
    let base = format!("/tenants/{}", t.slug);
    let (alice, alice_pat) = person(&app, &t, "alice@acme.test", "admin").await;
    let (bob, bob_pat) = person(&app, &t, "bob@acme.test", "member").await;
    let (a, b) = (As::Bearer(&alice_pat), As::Bearer(&bob_pat));

    // A tenant admin administers their tenant, and nothing else.
    assert_eq!(get(&app, a, &format!("{base}/users")).await.0, 200);
    assert_eq!(get(&app, a, &format!("{base}/scim-tokens")).await.0, 200);
    let own = get(&app, a, "/tenants").await;
    assert_eq!(own.1.as_array().unwrap().len(), 1);
    assert_eq!(own.1[0]["slug"], t.slug.as_str());
    for path in ["/users", "/scim-tokens", "/idps", "/invites", ""] {
        refused(
            &get(&app, a, &format!("/tenants/{}{path}", other.slug)).await,
            403,
            "forbidden",
            None,
        );
    }
    refused(
        &call(
            &app,
            a,
            Method::POST,
            &format!("/tenants/{}/invites", other.slug),
            Some(json!({"email": "x@y.test"})),
        )
        .await,
        403,
        "forbidden",
        None,
    );
    refused(
        &call(
            &app,
            a,
            Method::POST,
            "/tenants",
            Some(json!({"slug": "mine"})),
        )
        .await,
        403,
        "forbidden",
        None,
    );
    refused(&get(&app, a, "/keys").await, 403, "forbidden", None);
    refused(
        &call(
            &app,
            a,
            Method::POST,
            "/admin-tokens",
            Some(json!({"name": "mine"})),
        )
        .await,
        403,
        "forbidden",
        None,
    );
    // A muster access token of the other tenant does not open this one either.
    refused(
        &get(&app, As::Bearer(&t.token), &format!("{base}/users")).await,
        401,
        "unauthenticated",
        None,
    );

    // A member reaches their own account and tokens only.
    for path in [
        "/users",
        "/scim-tokens",
        "/invites",
        "/groups",
        "/templates/invite",
        "",
    ] {
        refused(
            &get(&app, b, &format!("{base}{path}")).await,
            403,
            "forbidden",
            None,
        );
    }
    refused(
        &call(
            &app,
            b,
            Method::PATCH,
            &format!("{base}/users/{alice}"),
            Some(json!({"active": false})),
        )
        .await,
        403,
        "forbidden",
        None,
    );
    refused(
        &call(
            &app,
            b,
            Method::POST,
            &format!("{base}/invites"),
            Some(json!({"email": "x@y.test"})),
        )
        .await,
        403,
        "forbidden",
        None,
    );
    let who = get(&app, b, &format!("{base}/me")).await;
    assert_eq!(
        (who.1["id"].clone(), who.1["role"].clone()),
        (json!(bob), json!("member"))
    );
    let second = call(
        &app,
        b,
        Method::POST,
        &format!("{base}/me/tokens"),
        Some(json!({"name": "ci", "days": 30})),
    )
    .await;
    assert_eq!(second.0, 201, "{}", second.1);
    assert!(second.1["expires_at"].is_string());
    refused(
        &call(
            &app,
            b,
            Method::POST,
            &format!("{base}/me/tokens"),
            Some(json!({"name": "ci"})),
        )
        .await,
        409,
        "already_exists",
        None,
    );
    refused(
        &call(
            &app,
            b,
            Method::POST,
            &format!("{base}/me/tokens"),
            Some(json!({"name": "x", "days": 0})),
        )
        .await,
        422,
        "invalid",
        Some("days"),
    );
    refused(
        &call(
            &app,
            b,
            Method::POST,
            &format!("{base}/me/tokens"),
            Some(json!({"name": " "})),
        )
        .await,
        422,
        "invalid",
        Some("name"),
    );
    refused(
        &call(
            &app,
            b,
            Method::POST,
            &format!("{base}/me/tokens"),
            Some(json!({"name": "forever", "days": 367})),
        )
        .await,
        422,
        "invalid",
        Some("days"),
    );
    let mine = get(&app, b, &format!("{base}/me/tokens")).await;
    assert_eq!(mine.1.as_array().unwrap().len(), 2);
    assert!(
        !mine.1.to_string().contains("mst_pat_"),
        "listings never show a secret"
    );
    let ci = second.1["id"].as_str().unwrap();
    let ci_token = second.1["token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(
            &app,
            b,
            Method::DELETE,
            &format!("{base}/me/tokens/{ci}"),
            None
        )
        .await
        .0,
        204
    );
    refused(
        &get(&app, As::Bearer(&ci_token), &format!("{base}/me")).await,
        401,
        "unauthenticated",
        None,
    );

    // A PAT answers for its person on userinfo, and only in its own tenant.
    let info: Value = app
        .client
        .get(format!("{}/t/{}/userinfo", app.url, t.slug))
        .bearer_auth(&bob_pat)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], bob.as_str());
    let elsewhere = app
        .client
        .get(format!("{}/t/{}/userinfo", app.url, other.slug))
        .bearer_auth(&bob_pat)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 401);

    // The session cookie works from muster's own pages, never from another site.
    let sid = session(&app, &t, &alice).await;
    assert_eq!(
        get(
            &app,
            As::Session(&t.slug, &sid, None),
            &format!("{base}/users")
        )
        .await
        .0,
        200
    );
    refused(
        &call(
            &app,
            As::Session(&t.slug, &sid, Some("https://evil.example")),
            Method::POST,
            &format!("{base}/invites"),
            Some(json!({"email": "x@y.test"})),
        )
        .await,
        403,
        "forbidden",
        None,
    );
    refused(
        &get(
            &app,
            As::Session(&t.slug, "mss_forged", None),
            &format!("{base}/users"),
        )
        .await,
        401,
        "unauthenticated",
        None,
    );

    // Admins cannot lock themselves out; they revoke and deactivate others.
    refused(
        &call(
            &app,
            a,
            Method::PATCH,
            &format!("{base}/users/{alice}"),
            Some(json!({"role": "member"})),
        )
        .await,
        409,
        "conflict",
        None,
    );
    let bobs = get(&app, a, &format!("{base}/users/{bob}/tokens")).await;
    assert_eq!(bobs.1.as_array().unwrap().len(), 1, "{}", bobs.1);
    let laptop = bobs.1[0]["id"].as_str().unwrap();
    assert!(
        bobs.1[0]["last_used_at"].is_string(),
        "last use is recorded"
    );
    assert_eq!(
        call(
            &app,
            a,
            Method::DELETE,
            &format!("{base}/users/{bob}/tokens/{laptop}"),
            None
        )
        .await
        .0,
        204
    );
    refused(
        &get(&app, b, &format!("{base}/me")).await,
        401,
        "unauthenticated",
        None,
    );
    let (_, carol_pat) = person(&app, &t, "carol@acme.test", "member").await;
    assert_eq!(
        get(&app, As::Bearer(&carol_pat), &format!("{base}/me"))
            .await
            .0,
        200
    );
    let carol = get(&app, As::Bearer(&carol_pat), &format!("{base}/me"))
        .await
        .1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        &app,
        a,
        Method::PATCH,
        &format!("{base}/users/{carol}"),
        Some(json!({"active": false})),
    )
    .await;
    refused(
        &get(&app, As::Bearer(&carol_pat), &format!("{base}/me")).await,
        401,
        "unauthenticated",
        None,
    );

    // An expired token opens nothing.
    let (tid, uid) = (t.slug.clone(), alice.clone());
    let lifetime = muster::auth::pats::Lifetime {
        default: 90,
        max: 366,
    };
    let expired = app
        .state
        .db
        .run(move |c| {
            let tenant = muster::tenants::by_slug(c, &tid.as_str().into())?.id;
            muster::auth::pats::create(c, &tenant, &uid.as_str().into(), "short", Some(1), lifetime)
        })
        .await
        .unwrap();
    assert_eq!(
        get(&app, As::Bearer(&expired.token), &format!("{base}/me"))
            .await
            .0,
        200
    );
    let id = expired.id.clone();
    app.state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use muster::db::schema::personal_tokens as pt;
            diesel::update(pt::table.find(&id))
                .set(pt::expires_at.eq("2000-01-01T00:00:00.000000Z"))
                .execute(c)
                .map_err(muster::error::Error::from)
        })
        .await
        .unwrap();
    refused(
        &get(&app, As::Bearer(&expired.token), &format!("{base}/me")).await,
        401,
        "unauthenticated",
        None,
    );

    // A platform token belongs to no one.
    let admin = admin_token(&app).await;
    refused(
        &get(&app, As::Bearer(&admin), &format!("{base}/me")).await,
        403,
        "forbidden",
        None,
    );
    refused(
        &get(&app, As::Bearer("mst_admin_forged"), "/tenants").await,
        401,
        "unauthenticated",
        None,
    );
}

async fn bad_requests_answer_in_the_api_form(app: TestApp) {
    let admin = admin_token(&app).await;
    let r = app
        .client
        .post(format!("{}/admin/v1/tenants", app.url))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid");
    let r = app
        .client
        .post(format!("{}/admin/v1/tenants", app.url))
        .bearer_auth(&admin)
        .body("slug=x")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = app
        .client
        .get(format!("{}/admin/v1/tenants", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_some());

    // Query values that once dropped the connection with a panic: a clear 422 instead.
    let t = app.tenant().await;
    for since in ["%C3%A9", "99999999999999d", "-1d"] {
        let got = get(
            &app,
            As::Bearer(&admin),
            &format!("/tenants/{}/log?since={since}", t.slug),
        )
        .await;
        refused(&got, 422, "invalid", Some("since"));
    }
}

crate::on_both_backends!(
    openapi_lists_every_endpoint_and_each_wants_credentials,
    platform_admin_sets_up_a_tenant,
    admins_manage_people,
    tenant_admins_and_members_stay_in_their_lane,
    bad_requests_answer_in_the_api_form,
);
