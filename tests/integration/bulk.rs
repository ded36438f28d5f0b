//! Bulk (RFC 7644 §3.7): bulkId references in any order, PUT/PATCH/DELETE by id and by bulkId,
//! `version` as If-Match, `failOnErrors`, limits, unresolvable references, and circular references resolved.

use crate::util::{Resp, Tenant, TestApp};
use serde_json::{json, Value};

crate::on_both_backends!(
    bulk_creates_a_user_and_a_group_that_references_it,
    bulk_resolves_a_reference_listed_before_its_target,
    bulk_id_path_listed_before_its_post_is_resolved,
    bulk_puts_patches_and_deletes_by_id_and_by_bulk_id,
    bulk_version_acts_as_if_match,
    fail_on_errors_stops_after_the_first_error,
    without_fail_on_errors_every_operation_is_attempted,
    more_than_max_operations_gets_413,
    bulk_payload_over_one_mebibyte_gets_413,
    reference_to_an_undefined_bulk_id_fails_that_operation,
    circular_bulk_id_references_are_resolved,
    malformed_bulk_requests_get_400,
);

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// POSTs a BulkRequest with these operations and asserts a 200 BulkResponse.
async fn bulk(t: &Tenant, ops: Value) -> Vec<Value> {
    bulk_with(t, json!({"schemas": [BULK_REQUEST], "Operations": ops})).await
}

async fn bulk_with(t: &Tenant, body: Value) -> Vec<Value> {
    let r = t.post("/Bulk", &body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/scim+json")
    );
    assert_eq!(r.body["schemas"], json!([BULK_RESPONSE]), "{:?}", r.body);
    r.body["Operations"].as_array().expect("Operations").clone()
}

/// The operation result with this bulkId.
fn by_bulk_id<'a>(results: &'a [Value], bulk_id: &str) -> &'a Value {
    results
        .iter()
        .find(|o| o["bulkId"] == bulk_id)
        .unwrap_or_else(|| panic!("no result for bulkId {bulk_id}: {results:?}"))
}

/// The id at the end of a location URL.
fn id_of(location: &Value) -> String {
    location
        .as_str()
        .and_then(|l| l.rsplit('/').next())
        .expect("location")
        .to_owned()
}

/// Asserts an operation failed with this status and a SCIM Error `response`.
fn assert_op_error(op: &Value, status: u16) {
    assert_eq!(op["status"], status.to_string(), "{op:?}");
    let resp = &op["response"];
    assert_eq!(resp["schemas"][0], ERROR_URN, "{op:?}");
    assert_eq!(resp["status"], status.to_string(), "{op:?}");
    assert!(
        resp["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{op:?}"
    );
}

/// Asserts an operation failed with a 4xx status and a SCIM Error `response`.
fn assert_op_client_error(op: &Value) {
    let status: u16 = op["status"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status is a string: {op:?}"));
    assert!((400..500).contains(&status), "{op:?}");
    assert_op_error(op, status);
}

async fn user_count(t: &Tenant) -> u64 {
    t.get("/Users").await.body["totalResults"]
        .as_u64()
        .expect("totalResults")
}

async fn group_count(t: &Tenant) -> u64 {
    t.get("/Groups").await.body["totalResults"]
        .as_u64()
        .expect("totalResults")
}

async fn bulk_creates_a_user_and_a_group_that_references_it(app: TestApp) {
    let t = app.tenant().await;
    let results = bulk(
        &t,
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "u1",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bulk.ann"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"displayName": "Bulk Group", "members": [{"value": "bulkId:u1"}]}},
        ]),
    )
    .await;
    assert_eq!(results.len(), 2, "{results:?}");
    for (op, endpoint) in [
        (by_bulk_id(&results, "u1"), "Users"),
        (by_bulk_id(&results, "g1"), "Groups"),
    ] {
        assert_eq!(op["status"], "201", "{op:?}");
        assert_eq!(op["method"], "POST");
        let location = op["location"].as_str().expect("location");
        assert!(
            location.starts_with(&format!("{}/{endpoint}/", t.scim)),
            "{location}"
        );
        // version is the resource's ETag, and location really is the resource.
        let got = t
            .get(&format!("/{endpoint}/{}", id_of(&op["location"])))
            .await;
        assert_eq!(got.status, 200, "{location}");
        assert_eq!(op["version"], got.body["meta"]["version"], "{op:?}");
        assert_eq!(got.body["meta"]["location"], location);
    }
    let user = id_of(&by_bulk_id(&results, "u1")["location"]);
    let group = id_of(&by_bulk_id(&results, "g1")["location"]);
    let g = t.get(&format!("/Groups/{group}")).await;
    let members: Vec<&str> = g.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    assert_eq!(
        members,
        vec![user.as_str()],
        "the bulkId became the user's id"
    );
    let u = t.get(&format!("/Users/{user}")).await;
    assert_eq!(u.body["userName"], "bulk.ann");
    assert_eq!(u.body["groups"][0]["value"], group, "{:?}", u.body);
    // Nothing was stored under the literal "bulkId:u1".
    assert!(!g.body.to_string().contains("bulkId:"), "{:?}", g.body);
}

async fn bulk_resolves_a_reference_listed_before_its_target(app: TestApp) {
    let t = app.tenant().await;
    let results = bulk(
        &t,
        json!([
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"displayName": "First", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "later.one"}},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"userName": "later.two"}},
        ]),
    )
    .await;
    assert_eq!(results.len(), 3, "{results:?}");
    for op in &results {
        assert_eq!(op["status"], "201", "every operation succeeds: {op:?}");
    }
    let group = id_of(&by_bulk_id(&results, "g1")["location"]);
    let u1 = id_of(&by_bulk_id(&results, "u1")["location"]);
    let u2 = id_of(&by_bulk_id(&results, "u2")["location"]);
    let g = t.get(&format!("/Groups/{group}")).await;
    let mut members: Vec<String> = g.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["value"].as_str().map(str::to_owned))
        .collect();
    members.sort();
    let mut expected = vec![u1, u2];
    expected.sort();
    assert_eq!(members, expected);
}

async fn bulk_id_path_listed_before_its_post_is_resolved(app: TestApp) {
    let t = app.tenant().await;
    let results = bulk(
        &t,
        json!([
            {"method": "PATCH", "path": "/Users/bulkId:u",
             "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "patched"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "patched.later"}},
        ]),
    )
    .await;
    assert_eq!(results.len(), 2, "{results:?}");
    let user = id_of(&by_bulk_id(&results, "u")["location"]);
    let patch = results
        .iter()
        .find(|o| o["method"] == "PATCH")
        .expect("PATCH result");
    assert_eq!(patch["status"], "200", "{patch:?}");
    assert_eq!(patch["location"], format!("{}/Users/{user}", t.scim));
    assert_eq!(
        t.get(&format!("/Users/{user}")).await.body["title"],
        "patched"
    );
}

async fn bulk_puts_patches_and_deletes_by_id_and_by_bulk_id(app: TestApp) {
    let t = app.tenant().await;
    let kept = t
        .user("kept", json!({"title": "old", "displayName": "Kept"}))
        .await;
    let doomed = t.user("doomed", json!({})).await;
    let patched = t.user("patched", json!({})).await;
    let results = bulk(
        &t,
        json!([
            {"method": "PUT", "path": format!("/Users/{kept}"),
             "data": {"userName": "kept", "title": "new"}},
            {"method": "PATCH", "path": format!("/Users/{patched}"),
             "data": {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "nickName", "value": "pat"}]}},
            {"method": "DELETE", "path": format!("/Users/{doomed}")},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "fresh"}},
            {"method": "PATCH", "path": "/Users/bulkId:u1",
             "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "patched by bulkId"}]}},
            {"method": "PUT", "path": "/Users/bulkId:u1",
             "data": {"userName": "fresh", "displayName": "Put by bulkId"}},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"userName": "short-lived"}},
            {"method": "DELETE", "path": "/Users/bulkId:u2"},
        ]),
    )
    .await;
    assert_eq!(results.len(), 8, "{results:?}");
    let statuses: Vec<&str> = results
        .iter()
        .map(|o| o["status"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        statuses,
        vec!["200", "200", "204", "201", "200", "200", "201", "204"],
        "{results:?}"
    );
    let methods: Vec<&str> = results
        .iter()
        .map(|o| o["method"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        methods,
        vec!["PUT", "PATCH", "DELETE", "POST", "PATCH", "PUT", "POST", "DELETE"]
    );

    // PUT replaced: title changed, displayName cleared.
    let k = t.get(&format!("/Users/{kept}")).await;
    assert_eq!(k.body["title"], "new");
    assert!(k.body.get("displayName").is_none(), "{:?}", k.body);
    assert_eq!(results[0]["version"], k.body["meta"]["version"]);
    assert_eq!(results[0]["location"], format!("{}/Users/{kept}", t.scim));
    assert_eq!(
        t.get(&format!("/Users/{patched}")).await.body["nickName"],
        "pat"
    );
    t.get(&format!("/Users/{doomed}"))
        .await
        .assert_error(404, None);

    let fresh = id_of(&results[3]["location"]);
    let f = t.get(&format!("/Users/{fresh}")).await;
    // PATCH then PUT, in request order: the PUT replaced the PATCHed title.
    assert_eq!(f.body["displayName"], "Put by bulkId");
    assert!(f.body.get("title").is_none(), "{:?}", f.body);
    assert_eq!(results[4]["location"], format!("{}/Users/{fresh}", t.scim));
    assert_eq!(results[5]["location"], format!("{}/Users/{fresh}", t.scim));
    assert_eq!(results[5]["version"], f.body["meta"]["version"]);
    assert_eq!(f.body["meta"]["version"], "W/\"3\"");

    let short_lived = id_of(&results[6]["location"]);
    t.get(&format!("/Users/{short_lived}"))
        .await
        .assert_error(404, None);
    assert_eq!(
        results[7]["location"],
        format!("{}/Users/{short_lived}", t.scim)
    );
    assert_eq!(t.user_ids("userName eq \"short-lived\"").await.len(), 0);

    // Groups too: PATCH members by bulkId path.
    let results = bulk(
        &t,
        json!([
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G"}},
            {"method": "PATCH", "path": "/Groups/bulkId:g",
             "data": {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": kept}]}]}},
        ]),
    )
    .await;
    assert_eq!(results[1]["status"], "200", "{results:?}");
    let g = id_of(&results[0]["location"]);
    assert_eq!(
        t.get(&format!("/Groups/{g}")).await.body["members"][0]["value"],
        kept
    );
}

async fn bulk_version_acts_as_if_match(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("versioned", json!({"title": "v1"})).await;
    let path = format!("/Users/{id}");
    let stale = t.get(&path).await.body["meta"]["version"].clone();
    let r = t
        .patch_ops(
            &path,
            json!([{"op": "replace", "path": "title", "value": "v2"}]),
        )
        .await;
    let current = r.body["meta"]["version"].clone();
    assert_ne!(stale, current);
    let before = t.get(&path).await;

    let results = bulk(
        &t,
        json!([
            {"method": "PATCH", "path": path, "version": stale,
             "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "stale patch"}]}},
            {"method": "PUT", "path": path, "version": stale,
             "data": {"userName": "versioned", "title": "stale put"}},
            {"method": "DELETE", "path": path, "version": stale},
        ]),
    )
    .await;
    assert_eq!(results.len(), 3);
    for op in &results {
        assert_op_error(op, 412);
    }
    assert_eq!(t.get(&path).await.body, before.body, "nothing changed");

    let results = bulk(
        &t,
        json!([
            {"method": "PATCH", "path": path, "version": current,
             "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "v3"}]}},
            {"method": "PUT", "path": path, "version": "*",
             "data": {"userName": "versioned", "title": "v4"}},
        ]),
    )
    .await;
    assert_eq!(results[0]["status"], "200", "{results:?}");
    assert_eq!(results[1]["status"], "200", "{results:?}");
    let now = t.get(&path).await;
    assert_eq!(now.body["title"], "v4");
    assert_eq!(results[1]["version"], now.body["meta"]["version"]);

    // DELETE with the current version goes through.
    let results = bulk(
        &t,
        json!([{"method": "DELETE", "path": path, "version": now.body["meta"]["version"]}]),
    )
    .await;
    assert_eq!(results[0]["status"], "204", "{results:?}");
    t.get(&path).await.assert_error(404, None);
}

async fn fail_on_errors_stops_after_the_first_error(app: TestApp) {
    let t = app.tenant().await;
    let results = bulk_with(
        &t,
        json!({"schemas": [BULK_REQUEST], "failOnErrors": 1, "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "foe.a"}},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"displayName": "no userName"}},
            {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "foe.c"}},
            {"method": "POST", "path": "/Groups", "bulkId": "d", "data": {"displayName": "foe.d"}},
        ]}),
    )
    .await;
    assert_eq!(results.len(), 2, "later operations are absent: {results:?}");
    assert_eq!(by_bulk_id(&results, "a")["status"], "201");
    assert_op_error(by_bulk_id(&results, "b"), 400);
    assert_eq!(
        by_bulk_id(&results, "b")["response"]["scimType"],
        "invalidValue"
    );
    assert_eq!(t.user_ids("userName eq \"foe.a\"").await.len(), 1);
    assert_eq!(
        t.user_ids("userName eq \"foe.c\"").await.len(),
        0,
        "not attempted"
    );
    assert_eq!(group_count(&t).await, 0, "not attempted");

    // failOnErrors: 2 lets one error through and stops at the second.
    let results = bulk_with(
        &t,
        json!({"schemas": [BULK_REQUEST], "failOnErrors": 2, "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "e1", "data": {}},
            {"method": "POST", "path": "/Users", "bulkId": "ok", "data": {"userName": "foe.ok"}},
            {"method": "POST", "path": "/Users", "bulkId": "e2", "data": {"userName": "foe.a"}},
            {"method": "POST", "path": "/Users", "bulkId": "never", "data": {"userName": "foe.never"}},
        ]}),
    )
    .await;
    assert_eq!(results.len(), 3, "{results:?}");
    assert_op_error(by_bulk_id(&results, "e2"), 409);
    assert_eq!(t.user_ids("userName eq \"foe.ok\"").await.len(), 1);
    assert_eq!(t.user_ids("userName eq \"foe.never\"").await.len(), 0);
}

async fn without_fail_on_errors_every_operation_is_attempted(app: TestApp) {
    let t = app.tenant().await;
    t.user("taken", json!({})).await;
    let missing = uuid::Uuid::new_v4();
    let results = bulk(
        &t,
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"userName": "TAKEN"}},
            {"method": "POST", "path": "/Users", "bulkId": "ok1", "data": {"userName": "all.one"}},
            {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"userName": "all.bad", "active": 3}},
            {"method": "DELETE", "path": format!("/Users/{missing}")},
            {"method": "PATCH", "path": format!("/Users/{missing}"),
             "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "x"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "ok2", "data": {"userName": "all.two"}},
        ]),
    )
    .await;
    assert_eq!(results.len(), 6, "{results:?}");
    assert_op_error(by_bulk_id(&results, "dup"), 409);
    assert_eq!(
        by_bulk_id(&results, "dup")["response"]["scimType"],
        "uniqueness"
    );
    assert_op_error(by_bulk_id(&results, "bad"), 400);
    assert_eq!(
        by_bulk_id(&results, "bad")["response"]["scimType"],
        "invalidValue"
    );
    assert_op_error(&results[3], 404);
    assert_eq!(results[3]["method"], "DELETE");
    assert_op_error(&results[4], 404);
    assert_eq!(by_bulk_id(&results, "ok1")["status"], "201");
    assert_eq!(by_bulk_id(&results, "ok2")["status"], "201");
    assert_eq!(user_count(&t).await, 3, "taken, all.one, all.two");
}

async fn more_than_max_operations_gets_413(app: TestApp) {
    let t = app.tenant().await;
    let max = t.get("/ServiceProviderConfig").await.body["bulk"]["maxOperations"]
        .as_u64()
        .expect("maxOperations");
    assert_eq!(max, 1000);
    let post = |i: u64| {
        json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
            "data": {"userName": format!("over{i}")}})
    };
    let ops: Vec<Value> = (0..=max).map(post).collect();
    let r = t
        .post(
            "/Bulk",
            &json!({"schemas": [BULK_REQUEST], "Operations": ops}),
        )
        .await;
    assert_eq!(r.status, 413, "{:?}", r.body);
    r.assert_error(413, None);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/scim+json")
    );
    assert_eq!(user_count(&t).await, 0, "nothing was applied");

    // Exactly the limit is accepted (cheap operations: each is a 404).
    let ops: Vec<Value> = (0..max)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/missing-{i}")}))
        .collect();
    let results = bulk(&t, json!(ops)).await;
    assert_eq!(results.len() as u64, max);
    assert!(results.iter().all(|o| o["status"] == "404"));
}

async fn bulk_payload_over_one_mebibyte_gets_413(app: TestApp) {
    let t = app.tenant().await;
    let max = t.get("/ServiceProviderConfig").await.body["bulk"]["maxPayloadSize"]
        .as_u64()
        .expect("maxPayloadSize");
    let max = usize::try_from(max).unwrap();
    let body = json!({"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "big",
         "data": {"userName": "big", "urn:example:ignored": {"blob": "x".repeat(max)}}},
    ]});
    let r = t.post("/Bulk", &body).await;
    r.assert_error(413, None);
    assert_eq!(user_count(&t).await, 0);

    // Just under the limit is processed.
    let body = json!({"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "fits",
         "data": {"userName": "fits", "urn:example:ignored": {"blob": "x".repeat(max - 500)}}},
    ]});
    assert!(body.to_string().len() < max);
    let results = bulk_with(&t, body).await;
    assert_eq!(results[0]["status"], "201", "{:?}", results[0]);
}

async fn reference_to_an_undefined_bulk_id_fails_that_operation(app: TestApp) {
    let t = app.tenant().await;
    let results = bulk(
        &t,
        json!([
            {"method": "POST", "path": "/Groups", "bulkId": "g",
             "data": {"displayName": "Orphans", "members": [{"value": "bulkId:nobody"}]}},
            {"method": "PATCH", "path": "/Users/bulkId:nobody",
             "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "x"}]}},
            {"method": "DELETE", "path": "/Groups/bulkId:nothing"},
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "independent"}},
        ]),
    )
    .await;
    assert_eq!(results.len(), 4, "{results:?}");
    for op in &results[..3] {
        assert_op_client_error(op);
    }
    assert!(
        results[0]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("nobody"),
        "the detail names the bulkId: {:?}",
        results[0]
    );
    assert_eq!(results[3]["status"], "201", "{:?}", results[3]);
    assert_eq!(group_count(&t).await, 0);

    // A reference to a POST that failed fails too, with its own error.
    let results = bulk(
        &t,
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "broken", "data": {"displayName": "no userName"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g2",
             "data": {"displayName": "Depends", "members": [{"value": "bulkId:broken"}]}},
        ]),
    )
    .await;
    assert_op_error(by_bulk_id(&results, "broken"), 400);
    assert_op_client_error(by_bulk_id(&results, "g2"));
    assert_eq!(group_count(&t).await, 0);
}

/// RFC 7644 §3.7.1: groups that refer to each other by bulkId are all created, each
/// containing the other.
async fn circular_bulk_id_references_are_resolved(app: TestApp) {
    let t = app.tenant().await;
    let results = bulk(
        &t,
        json!([
            {"method": "POST", "path": "/Groups", "bulkId": "ga",
             "data": {"displayName": "A", "members": [{"value": "bulkId:gb"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "gb",
             "data": {"displayName": "B", "members": [{"value": "bulkId:ga"}, {"value": "bulkId:u"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "bystander"}},
        ]),
    )
    .await;
    assert_eq!(results.len(), 3, "every operation is answered: {results:?}");
    for b in ["ga", "gb", "u"] {
        assert_eq!(by_bulk_id(&results, b)["status"], "201", "{results:?}");
    }
    let id = |b: &str| {
        let op = by_bulk_id(&results, b);
        op["location"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    let (ga, gb, u) = (id("ga"), id("gb"), id("u"));
    let members = |g: String| {
        let t = t.clone();
        async move {
            let r = t.get(&format!("/Groups/{g}")).await;
            let mut ids: Vec<String> = r.body["members"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .map(|m| m["value"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            ids.sort();
            ids
        }
    };
    assert_eq!(members(ga.clone()).await, vec![gb.clone()]);
    let mut want = vec![ga, u];
    want.sort();
    assert_eq!(members(gb).await, want);
    assert_eq!(group_count(&t).await, 2);
}

async fn malformed_bulk_requests_get_400(app: TestApp) {
    let t = app.tenant().await;
    let cases = [
        ("array body", json!([{"method": "POST"}])),
        ("no Operations", json!({"schemas": [BULK_REQUEST]})),
        (
            "Operations not an array",
            json!({"Operations": {"method": "POST"}}),
        ),
        (
            "operation without method",
            json!({"Operations": [{"path": "/Users", "bulkId": "x", "data": {"userName": "x"}}]}),
        ),
        (
            "operation without path",
            json!({"Operations": [{"method": "POST", "bulkId": "x", "data": {"userName": "x"}}]}),
        ),
        (
            "failOnErrors not a number",
            json!({"failOnErrors": "one", "Operations": []}),
        ),
        (
            "failOnErrors zero",
            json!({"failOnErrors": 0, "Operations": []}),
        ),
    ];
    for (what, body) in cases {
        let r = t.post("/Bulk", &body).await;
        assert_eq!(r.status, 400, "{what}: {:?}", r.body);
        r.assert_error(400, Some("invalidSyntax"));
    }
    let r: Resp = t
        .send(
            t.req(reqwest::Method::POST, "/Bulk")
                .header("content-type", "application/scim+json")
                .body("{\"Operations\": ["),
        )
        .await;
    r.assert_error(400, Some("invalidSyntax"));
    assert_eq!(user_count(&t).await, 0);

    // Per-operation problems are answered per operation.
    let results = bulk(
        &t,
        json!([
            {"method": "POST", "path": "/Users", "data": {"userName": "no-bulk-id"}},
            {"method": "POST", "path": "/Schemas", "bulkId": "s", "data": {}},
            {"method": "GET", "path": "/Users", "bulkId": "g"},
            {"method": "PUT", "path": "/Users", "data": {"userName": "no id"}},
        ]),
    )
    .await;
    assert_eq!(results.len(), 4, "{results:?}");
    for op in &results {
        assert_op_client_error(op);
    }
    assert_eq!(user_count(&t).await, 0);
}
