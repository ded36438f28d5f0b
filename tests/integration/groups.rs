//! Groups and their membership rows: create, PATCH every member form Okta and Entra ID send,
//! PUT, DELETE, large groups, nested groups, and each user's read-only `groups`.

use crate::util::{Tenant, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeSet;

crate::on_both_backends!(
    create_with_members_shows_them_and_user_groups,
    patch_add_members_answers_204_and_is_idempotent,
    remove_one_member_by_filter_keeps_the_others,
    entra_remove_with_value_list_removes_only_those,
    remove_members_without_value_removes_all,
    replace_members_sets_exactly_that_list,
    okta_pathless_replace_members_and_display_name,
    patch_response_follows_attribute_parameters,
    thousand_members_in_one_patch,
    concurrent_single_member_adds_are_all_kept,
    unknown_member_ids_are_rejected_and_nothing_changes,
    groups_can_contain_groups,
    deleting_a_user_or_group_removes_its_memberships,
    put_replaces_members_only_when_named,
    display_name_is_required,
);

fn gpath(id: &str) -> String {
    format!("/Groups/{id}")
}

/// GETs a group (200) with all its members and returns the body.
async fn get_group(t: &Tenant, id: &str) -> Value {
    let r = t.get(&gpath(id)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// The member ids of a rendered group (none when `members` is absent).
fn member_set(group: &Value) -> BTreeSet<String> {
    group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|e| e["value"].as_str().expect("member value").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

/// The stored members of a group, read back with GET.
async fn members(t: &Tenant, id: &str) -> BTreeSet<String> {
    member_set(&get_group(t, id).await)
}

/// PATCHes a group without projection parameters: expects 204, no body, an ETag equal to the
/// stored version.
async fn patch_204(t: &Tenant, id: &str, ops: Value) {
    let r = t.patch_ops(&gpath(id), ops.clone()).await;
    assert_eq!(r.status, 204, "{ops}: {:?}", r.body);
    assert_eq!(r.body, Value::Null, "204 has no body");
    let stored = get_group(t, id).await;
    assert_eq!(
        r.header("etag").as_deref(),
        stored["meta"]["version"].as_str(),
        "the ETag of a 204 is the stored version"
    );
}

fn version(v: &Value) -> String {
    v["meta"]["version"]
        .as_str()
        .expect("meta.version")
        .to_owned()
}

/// Creates `n` users named `<prefix>-<i>`, 50 requests at a time; returns their ids.
async fn users(t: &Tenant, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    for batch in names.chunks(50) {
        let posts = batch.iter().map(|name| t.user(name, json!({})));
        ids.extend(futures_util::future::join_all(posts).await);
    }
    ids
}

async fn create_with_members_shows_them_and_user_groups(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("u1", json!({})).await;
    let u2 = t.user("u2", json!({})).await;
    let r = t
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Engineering",
                    "members": [{"value": u1, "display": "ignored"}, {"value": u2, "type": "User"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let gid = r.body["id"].as_str().expect("id").to_owned();
    assert_eq!(member_set(&r.body), set(&[&u1, &u2]));
    assert_eq!(
        r.header("location"),
        Some(format!("{}/Groups/{gid}", t.scim))
    );

    let g = get_group(&t, &gid).await;
    assert_eq!(g["displayName"], "Engineering");
    assert_eq!(g["meta"]["resourceType"], "Group");
    let listed = g["members"].as_array().expect("members");
    assert_eq!(listed.len(), 2);
    for m in listed {
        let id = m["value"].as_str().expect("value");
        assert_eq!(m["$ref"], format!("{}/Users/{id}", t.scim), "{m}");
        assert_eq!(m["type"], "User", "{m}");
    }
    assert_eq!(member_set(&g), set(&[&u1, &u2]));

    let r = t
        .get(&format!("/Groups/{gid}?excludedAttributes=members"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("members").is_none(), "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Engineering");

    let r = t
        .get(&format!("/Groups/{gid}?attributes=displayName"))
        .await;
    assert!(r.body.get("members").is_none(), "{:?}", r.body);

    // The user's read-only `groups` lists the group.
    let u = t.get(&format!("/Users/{u1}")).await.body;
    let groups = u["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{u}");
    assert_eq!(groups[0]["value"], gid.as_str());
    assert_eq!(groups[0]["display"], "Engineering");
    assert_eq!(groups[0]["$ref"], format!("{}/Groups/{gid}", t.scim));

    // And a rename shows in the user's `groups.display`.
    patch_204(
        &t,
        &gid,
        json!([{"op": "replace", "path": "displayName", "value": "Eng"}]),
    )
    .await;
    let u = t.get(&format!("/Users/{u2}")).await.body;
    assert_eq!(u["groups"][0]["display"], "Eng");

    // The list endpoint shows members too, and filters on them.
    let list = t.get("/Groups?filter=displayName eq \"Eng\"").await;
    assert_eq!(list.body["totalResults"], 1);
    assert_eq!(member_set(&list.body["Resources"][0]), set(&[&u1, &u2]));
    assert_eq!(
        t.ids("/Users", &format!("groups.value eq \"{gid}\""))
            .await
            .len(),
        2
    );
}

async fn patch_add_members_answers_204_and_is_idempotent(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("a1", json!({})).await;
    let u2 = t.user("a2", json!({})).await;
    let u3 = t.user("a3", json!({})).await;
    let gid = t.group("adds", &[]).await;
    assert!(get_group(&t, &gid).await.get("members").is_none());

    patch_204(
        &t,
        &gid,
        json!([{"op": "add", "path": "members", "value": [{"value": u1}, {"value": u2}]}]),
    )
    .await;
    let g = get_group(&t, &gid).await;
    assert_eq!(member_set(&g), set(&[&u1, &u2]));
    assert_eq!(
        version(&g),
        "W/\"2\"",
        "a membership change bumps the version"
    );

    // Adding an existing member again changes nothing, not even the version.
    patch_204(
        &t,
        &gid,
        json!([{"op": "Add", "path": "members", "value": [{"value": u1}]}]),
    )
    .await;
    let again = get_group(&t, &gid).await;
    assert_eq!(member_set(&again), set(&[&u1, &u2]));
    assert_eq!(version(&again), "W/\"2\"");
    assert_eq!(again["meta"]["lastModified"], g["meta"]["lastModified"]);

    // Entra adds one member per request; duplicates within one request are harmless.
    patch_204(
        &t,
        &gid,
        json!([{"op": "Add", "path": "members", "value": [{"value": u3}, {"value": u3}, {"value": u1}]}]),
    )
    .await;
    assert_eq!(members(&t, &gid).await, set(&[&u1, &u2, &u3]));
    assert_eq!(
        t.ids("/Groups", &format!("members.value eq \"{u3}\""))
            .await,
        vec![gid.clone()]
    );
}

async fn remove_one_member_by_filter_keeps_the_others(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("r1", json!({})).await;
    let u2 = t.user("r2", json!({})).await;
    let u3 = t.user("r3", json!({})).await;
    let gid = t.group("rm", &[&u1, &u2, &u3]).await;

    patch_204(
        &t,
        &gid,
        json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]),
    )
    .await;
    assert_eq!(members(&t, &gid).await, set(&[&u1, &u3]));
    let u = t.get(&format!("/Users/{u2}")).await.body;
    assert!(u.get("groups").is_none(), "{u}");

    // Removing a member who is not there changes nothing.
    let before = get_group(&t, &gid).await;
    patch_204(
        &t,
        &gid,
        json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]),
    )
    .await;
    assert_eq!(get_group(&t, &gid).await, before);

    // Two at once with `or`; a filter on `type` removes every member of that type.
    let u4 = t.user("r4", json!({})).await;
    patch_204(
        &t,
        &gid,
        json!([{"op": "add", "path": "members", "value": [{"value": u4}]},
               {"op": "Remove", "path": format!("members[value eq \"{u1}\" or value eq \"{u3}\"]")}]),
    )
    .await;
    assert_eq!(members(&t, &gid).await, set(&[&u4]));
    patch_204(
        &t,
        &gid,
        json!([{"op": "remove", "path": "members[type eq \"User\"]"}]),
    )
    .await;
    assert!(members(&t, &gid).await.is_empty());
}

async fn entra_remove_with_value_list_removes_only_those(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("e1", json!({})).await;
    let u2 = t.user("e2", json!({})).await;
    let u3 = t.user("e3", json!({})).await;
    let u4 = t.user("e4", json!({})).await;
    let gid = t.group("entra", &[&u1, &u2, &u3, &u4]).await;

    patch_204(
        &t,
        &gid,
        json!([{"op": "Remove", "path": "members", "value": [{"value": u1}]}]),
    )
    .await;
    assert_eq!(members(&t, &gid).await, set(&[&u2, &u3, &u4]));

    patch_204(
        &t,
        &gid,
        json!([{"op": "Remove", "path": "members", "value": [{"value": u2}, {"value": u4}]}]),
    )
    .await;
    assert_eq!(members(&t, &gid).await, set(&[&u3]));
}

async fn remove_members_without_value_removes_all(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("x1", json!({})).await;
    let u2 = t.user("x2", json!({})).await;
    let gid = t.group("all", &[&u1, &u2]).await;
    patch_204(&t, &gid, json!([{"op": "remove", "path": "members"}])).await;
    let g = get_group(&t, &gid).await;
    assert!(member_set(&g).is_empty(), "{g}");
    assert_eq!(g["displayName"], "all");
    let r = t.get(&format!("/Groups/{gid}?attributes=members")).await;
    assert!(member_set(&r.body).is_empty(), "{:?}", r.body);
    assert!(t
        .ids("/Groups", &format!("members.value eq \"{u1}\""))
        .await
        .is_empty());
    // The users themselves are untouched.
    assert_eq!(t.get(&format!("/Users/{u1}")).await.status, 200);
}

async fn replace_members_sets_exactly_that_list(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("p1", json!({})).await;
    let u2 = t.user("p2", json!({})).await;
    let u3 = t.user("p3", json!({})).await;
    let gid = t.group("rep", &[&u1, &u2]).await;

    patch_204(
        &t,
        &gid,
        json!([{"op": "replace", "path": "members", "value": [{"value": u2}, {"value": u3}]}]),
    )
    .await;
    assert_eq!(members(&t, &gid).await, set(&[&u2, &u3]));

    // Replacing with the same list changes nothing, not even the version.
    let before = get_group(&t, &gid).await;
    patch_204(
        &t,
        &gid,
        json!([{"op": "Replace", "path": "members", "value": [{"value": u3}, {"value": u2}]}]),
    )
    .await;
    assert_eq!(get_group(&t, &gid).await, before);

    patch_204(
        &t,
        &gid,
        json!([{"op": "replace", "path": "members", "value": []}]),
    )
    .await;
    assert!(members(&t, &gid).await.is_empty());
}

async fn okta_pathless_replace_members_and_display_name(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("o1", json!({})).await;
    let u2 = t.user("o2", json!({})).await;
    let u3 = t.user("o3", json!({})).await;
    let gid = t.group("okta", &[&u1, &u2]).await;

    patch_204(
        &t,
        &gid,
        json!([{"op": "replace", "value": {
            "id": gid,
            "displayName": "Okta Renamed",
            "members": [{"value": u3, "display": "o3"}, {"value": u1, "display": "o1"}],
        }}]),
    )
    .await;
    let g = get_group(&t, &gid).await;
    assert_eq!(g["displayName"], "Okta Renamed");
    assert_eq!(g["id"], gid.as_str());
    assert_eq!(member_set(&g), set(&[&u1, &u3]));
    assert_eq!(
        t.ids("/Groups", "displayName eq \"okta renamed\"").await,
        vec![gid.clone()]
    );

    // Okta clears a group with an empty member list.
    patch_204(
        &t,
        &gid,
        json!([{"op": "replace", "value": {"displayName": "Okta Renamed", "members": []}}]),
    )
    .await;
    assert!(members(&t, &gid).await.is_empty());
}

async fn patch_response_follows_attribute_parameters(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("q1", json!({})).await;
    let u2 = t.user("q2", json!({})).await;
    let gid = t.group("proj", &[&u1]).await;
    let add = |u: &str| json!([{"op": "add", "path": "members", "value": [{"value": u}]}]);
    let body = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});

    let r = t
        .patch(
            &format!("/Groups/{gid}?attributes=members"),
            &body(add(&u2)),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["id"], gid.as_str());
    assert_eq!(member_set(&r.body), set(&[&u1, &u2]));
    assert!(r.body.get("displayName").is_none(), "{:?}", r.body);
    assert_eq!(r.header("etag").as_deref(), Some("W/\"2\""));

    let r = t
        .patch(
            &format!("/Groups/{gid}?excludedAttributes=members"),
            &body(json!([{"op": "replace", "path": "displayName", "value": "Proj"}])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("members").is_none(), "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Proj");
    assert_eq!(r.body["meta"]["version"], "W/\"3\"");

    let r = t
        .patch(
            &gid_path_with(&gid, "attributes=displayName"),
            &body(json!([{"op": "remove", "path": format!("members[value eq \"{u1}\"]")}])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("members").is_none(), "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Proj");

    let r = t.patch(&gpath(&gid), &body(add(&u1))).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, Value::Null);
    assert_eq!(members(&t, &gid).await, set(&[&u1, &u2]));
}

fn gid_path_with(gid: &str, query: &str) -> String {
    format!("/Groups/{gid}?{query}")
}

async fn thousand_members_in_one_patch(app: TestApp) {
    let t = app.tenant().await;
    let ids = users(&t, "bulk", 1000).await;
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 1000);
    let gid = t.group("big", &[]).await;

    let value: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    patch_204(
        &t,
        &gid,
        json!([{"op": "Add", "path": "members", "value": value}]),
    )
    .await;

    let r = t.get(&format!("/Groups/{gid}?attributes=members")).await;
    assert_eq!(r.status, 200);
    let listed = r.body["members"].as_array().expect("members");
    assert_eq!(listed.len(), 1000);
    let want: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(member_set(&r.body), want);

    let one = &ids[637];
    assert_eq!(
        t.ids("/Groups", &format!("members eq \"{one}\"")).await,
        vec![gid.clone()]
    );
    let u = t.get(&format!("/Users/{one}")).await.body;
    assert_eq!(u["groups"][0]["value"], gid.as_str());

    // Adding one more to the large group is a small request with a small answer.
    let extra = t.user("bulk-extra", json!({})).await;
    patch_204(
        &t,
        &gid,
        json!([{"op": "add", "path": "members", "value": [{"value": extra}]}]),
    )
    .await;
    // And removing one leaves the other 1,000.
    patch_204(
        &t,
        &gid,
        json!([{"op": "remove", "path": format!("members[value eq \"{one}\"]")}]),
    )
    .await;
    let after = t.get(&format!("/Groups/{gid}?attributes=members")).await;
    let mut want = want;
    want.remove(one);
    want.insert(extra);
    assert_eq!(member_set(&after.body), want);
}

/// Entra adds members one PATCH at a time, many in flight at once.
async fn concurrent_single_member_adds_are_all_kept(app: TestApp) {
    let t = app.tenant().await;
    let ids = users(&t, "conc", 32).await;
    let gid = t.group("busy", &[]).await;
    let p = gpath(&gid);
    let requests = ids.iter().map(|id| {
        t.patch_ops(
            &p,
            json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]),
        )
    });
    for r in futures_util::future::join_all(requests).await {
        assert_eq!(r.status, 204, "{:?}", r.body);
    }
    let g = get_group(&t, &gid).await;
    assert_eq!(member_set(&g), ids.iter().cloned().collect());
    assert_eq!(version(&g), "W/\"33\"", "32 serialised membership changes");
}

async fn unknown_member_ids_are_rejected_and_nothing_changes(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("k1", json!({})).await;
    let u2 = t.user("k2", json!({})).await;
    let gid = t.group("strict", &[&u1]).await;
    let before = get_group(&t, &gid).await;
    let missing = "00000000-0000-0000-0000-00000000dead";

    let r = t
        .patch_ops(
            &gpath(&gid),
            json!([{"op": "add", "path": "members", "value": [{"value": u2}, {"value": missing}]}]),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    assert!(
        r.body["detail"].as_str().expect("detail").contains(missing),
        "{:?}",
        r.body
    );
    assert_eq!(get_group(&t, &gid).await, before, "u2 was not added either");

    // Across operations: the earlier operations are rolled back too.
    let r = t
        .patch_ops(
            &gpath(&gid),
            json!([{"op": "replace", "path": "displayName", "value": "changed"},
                   {"op": "add", "path": "members", "value": [{"value": u2}]},
                   {"op": "remove", "path": "members", "value": [{"value": u1}]},
                   {"op": "add", "path": "members", "value": [{"value": "no-such-member"}]}]),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    assert!(r.body["detail"]
        .as_str()
        .expect("detail")
        .contains("no-such-member"));
    assert_eq!(get_group(&t, &gid).await, before);

    // A replace naming an unknown id keeps the old members.
    t.patch_ops(
        &gpath(&gid),
        json!([{"op": "replace", "path": "members", "value": [{"value": missing}]}]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    assert_eq!(get_group(&t, &gid).await, before);

    // A user of another tenant is unknown here.
    let other = app.tenant().await;
    let foreign = other.user("foreign", json!({})).await;
    let r = t
        .patch_ops(
            &gpath(&gid),
            json!([{"op": "add", "path": "members", "value": [{"value": foreign}]}]),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    assert!(r.body["detail"]
        .as_str()
        .expect("detail")
        .contains(&foreign));
    assert_eq!(get_group(&t, &gid).await, before);

    // POST and PUT refuse unknown members too, and create nothing.
    let r = t
        .post(
            "/Groups",
            &json!({"displayName": "ghosts", "members": [{"value": u1}, {"value": missing}]}),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    assert!(t
        .ids("/Groups", "displayName eq \"ghosts\"")
        .await
        .is_empty());
    t.put(
        &gpath(&gid),
        &json!({"displayName": "renamed", "members": [{"value": missing}]}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    assert_eq!(get_group(&t, &gid).await, before);

    // A member without a value is malformed.
    t.patch_ops(
        &gpath(&gid),
        json!([{"op": "add", "path": "members", "value": [{"display": "x"}]}]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
}

async fn groups_can_contain_groups(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("n1", json!({})).await;
    let inner = t.group("inner", &[&u1]).await;
    let outer = t.group("outer", &[&inner]).await;

    let g = get_group(&t, &outer).await;
    let listed = g["members"].as_array().expect("members");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["value"], inner.as_str());
    assert_eq!(listed[0]["type"], "Group");
    assert_eq!(listed[0]["$ref"], format!("{}/Groups/{inner}", t.scim));

    patch_204(
        &t,
        &outer,
        json!([{"op": "add", "path": "members", "value": [{"value": u1, "type": "User"}]}]),
    )
    .await;
    let g = get_group(&t, &outer).await;
    assert_eq!(member_set(&g), set(&[&inner, &u1]));
    let types: BTreeSet<(String, String)> = g["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["value"].as_str().expect("value").to_owned(),
                m["type"].as_str().expect("type").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            (inner.clone(), "Group".to_owned()),
            (u1.clone(), "User".to_owned())
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        t.ids("/Groups", "members[type eq \"Group\"]").await,
        vec![outer.clone()]
    );
    // The inner group still has its own member.
    assert_eq!(members(&t, &inner).await, set(&[&u1]));

    // Deleting the inner group removes it from the outer one.
    assert_eq!(t.delete(&gpath(&inner)).await.status, 204);
    assert_eq!(members(&t, &outer).await, set(&[&u1]));
}

async fn deleting_a_user_or_group_removes_its_memberships(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("d1", json!({})).await;
    let u2 = t.user("d2", json!({})).await;
    let g1 = t.group("g1", &[&u1, &u2]).await;
    let g2 = t.group("g2", &[&u1, &u2]).await;

    assert_eq!(t.delete(&format!("/Users/{u1}")).await.status, 204);
    assert_eq!(members(&t, &g1).await, set(&[&u2]));
    assert_eq!(members(&t, &g2).await, set(&[&u2]));
    assert!(t
        .ids("/Groups", &format!("members eq \"{u1}\""))
        .await
        .is_empty());

    let before = t.get(&format!("/Users/{u2}")).await.body;
    let mut groups: Vec<&str> = before["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["value"].as_str().expect("value"))
        .collect();
    groups.sort_unstable();
    let mut want = vec![g1.as_str(), g2.as_str()];
    want.sort_unstable();
    assert_eq!(groups, want);

    let d = t.delete(&gpath(&g2)).await;
    assert_eq!(d.status, 204);
    assert_eq!(d.body, Value::Null);
    t.get(&gpath(&g2)).await.assert_error(404, None);
    t.delete(&gpath(&g2)).await.assert_error(404, None);
    t.patch_ops(&gpath(&g2), json!([{"op": "remove", "path": "members"}]))
        .await
        .assert_error(404, None);

    let u = t.get(&format!("/Users/{u2}")).await.body;
    let groups = u["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{u}");
    assert_eq!(groups[0]["value"], g1.as_str());
    assert!(t
        .ids("/Users", &format!("groups.value eq \"{g2}\""))
        .await
        .is_empty());

    // A deleted user cannot be added back by id.
    t.patch_ops(
        &gpath(&g1),
        json!([{"op": "add", "path": "members", "value": [{"value": u1}]}]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
}

async fn put_replaces_members_only_when_named(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("w1", json!({})).await;
    let u2 = t.user("w2", json!({})).await;
    let gid = t.group("put", &[&u1]).await;

    let r = t
        .put(
            &gpath(&gid),
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "id": gid, "displayName": "put", "members": [{"value": u2}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(member_set(&r.body), set(&[&u2]));
    assert_eq!(members(&t, &gid).await, set(&[&u2]));

    // Without `members`, PUT keeps them (documented choice: Okta AIW PUTs a group's name).
    let r = t
        .put(&gpath(&gid), &json!({"displayName": "put renamed"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let g = get_group(&t, &gid).await;
    assert_eq!(g["displayName"], "put renamed");
    assert_eq!(member_set(&g), set(&[&u2]));

    // An empty list clears them.
    let r = t
        .put(
            &gpath(&gid),
            &json!({"displayName": "put renamed", "members": []}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(members(&t, &gid).await.is_empty());

    t.put(
        "/Groups/00000000-0000-0000-0000-000000000000",
        &json!({"displayName": "x"}),
    )
    .await
    .assert_error(404, None);
}

async fn display_name_is_required(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("v1", json!({})).await;
    t.post("/Groups", &json!({"members": [{"value": u1}]}))
        .await
        .assert_error(400, Some("invalidValue"));
    t.post("/Groups", &json!({"displayName": ""}))
        .await
        .assert_error(400, Some("invalidValue"));
    assert_eq!(t.get("/Groups").await.body["totalResults"], 0);

    let gid = t.group("named", &[&u1]).await;
    let before = get_group(&t, &gid).await;
    t.put(&gpath(&gid), &json!({"members": []}))
        .await
        .assert_error(400, Some("invalidValue"));
    t.patch_ops(
        &gpath(&gid),
        json!([{"op": "remove", "path": "displayName"}]),
    )
    .await
    .assert_error(400, Some("mutability"));
    assert_eq!(get_group(&t, &gid).await, before);
}
