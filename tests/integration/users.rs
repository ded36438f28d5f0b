//! Users: create, read, replace, delete, uniqueness, passwords, the forms IdPs send.

use crate::util::TestApp;
use serde_json::json;

crate::on_both_backends!(
    create_read_delete,
    user_name_is_unique_case_insensitively,
    password_is_hashed_and_never_returned,
    put_replaces_and_ignores_read_only,
);

async fn create_read_delete(app: TestApp) {
    let t = app.tenant().await;
    let r = t
        .send(
            t.req(reqwest::Method::POST, "/Users")
                .header("content-type", "application/json")
                .body(
                    json!({"userName": "ann@example.com", "active": "True",
                    "id": "client-chosen", "meta": {"resourceType": "User"}, "groups": [],
                    "urn:example:unknown": {"x": 1}})
                    .to_string(),
                ),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_ne!(id, "client-chosen");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/scim+json")
    );
    let location = r.header("location").unwrap();
    assert_eq!(location, r.body["meta"]["location"]);
    assert_eq!(location, format!("{}/Users/{id}", t.scim));
    assert_eq!(r.header("etag").unwrap(), r.body["meta"]["version"]);
    assert_eq!(r.body["active"], true);

    let got = t.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["userName"], "ann@example.com");

    let d = t.delete(&format!("/Users/{id}")).await;
    assert_eq!(d.status, 204);
    assert_eq!(d.body, serde_json::Value::Null);
    t.get(&format!("/Users/{id}")).await.assert_error(404, None);
    t.delete(&format!("/Users/{id}"))
        .await
        .assert_error(404, None);
}

async fn user_name_is_unique_case_insensitively(app: TestApp) {
    let t = app.tenant().await;
    t.user("Bob@Example.com", json!({})).await;
    let r = t
        .post("/Users", &json!({"userName": "bob@EXAMPLE.com"}))
        .await;
    r.assert_error(409, Some("uniqueness"));
    // The same name in another tenant is fine.
    let other = app.tenant().await;
    other.user("bob@example.com", json!({})).await;
    // Inactive users still count and are still returned.
    let id = t.user("carol", json!({"active": false})).await;
    assert_eq!(t.user_ids("userName eq \"CAROL\"").await, vec![id.clone()]);
    let renamed = t
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "userName", "value": "BOB@example.com"}]),
        )
        .await;
    renamed.assert_error(409, Some("uniqueness"));
}

async fn password_is_hashed_and_never_returned(app: TestApp) {
    let t = app.tenant_with_scim_passwords().await;
    let r = t
        .post(
            "/Users",
            &json!({"userName": "dan", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert!(r.body.get("password").is_none());
    let id = r.body["id"].as_str().unwrap().to_owned();
    let got = t
        .get(&format!("/Users/{id}?attributes=password,userName"))
        .await;
    assert!(got.body.get("password").is_none(), "{:?}", got.body);
    let stored_id = id.clone();
    let hash: Option<String> = app
        .state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use muster::db::schema::users;
            users::table
                .filter(users::id.eq(&stored_id))
                .select(users::password_hash)
                .first(c)
                .map_err(muster::db::DbError::from)
        })
        .await
        .unwrap();
    let hash = hash.unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));
    let body = t
        .get("/Users?filter=userName eq \"dan\"")
        .await
        .body
        .to_string();
    assert!(!body.contains("argon2") && !body.contains("correct horse"));
}

async fn put_replaces_and_ignores_read_only(app: TestApp) {
    let t = app.tenant().await;
    let id = t
        .user("erin", json!({"title": "Engineer", "displayName": "Erin"}))
        .await;
    let r = t
        .put(
            &format!("/Users/{id}"),
            &json!({"id": id, "userName": "erin",
            "displayName": "Erin E", "groups": [{"value": "x"}], "meta": {"version": "W/\"9\""}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Erin E");
    assert!(
        r.body.get("title").is_none(),
        "PUT replaces: title is cleared"
    );
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    t.put(
        "/Users/00000000-0000-0000-0000-000000000000",
        &json!({"userName": "x"}),
    )
    .await
    .assert_error(404, None);
}
