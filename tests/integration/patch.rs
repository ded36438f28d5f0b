//! PATCH on Users: every operation form (RFC 7644 §3.5.2) and what Okta and Entra ID send,
//! checked against the stored resource by re-reading it after each request.

use crate::util::{Tenant, TestApp};
use serde_json::{json, Value};

crate::on_both_backends!(
    single_valued_add_replace_remove_with_and_without_path,
    complex_sub_attribute_and_object_value_merge,
    multi_valued_add_appends_once_replace_replaces_remove_clears,
    value_path_filters_change_only_matching_elements,
    filtered_add_matching_nothing_creates_the_element,
    primary_stays_exclusive,
    entra_pascal_case_ops_and_string_booleans,
    entra_pathless_replace_with_dotted_and_urn_keys,
    entra_manager_array_is_stored_as_object,
    entra_empty_string_and_null_unassign,
    okta_pathless_deactivate_keeps_user_listed,
    okta_pathless_replace_ignores_read_only_keys,
    pathless_value_ignores_read_only_and_unknown_schema_keys,
    invalid_patches_get_the_right_error_and_change_nothing,
    failing_second_operation_rolls_back_the_first,
    patch_on_missing_user_is_404,
    noop_patch_keeps_version_and_real_change_bumps_it,
    password_replace_is_accepted_and_never_returned,
    password_by_urn_qualified_path_is_stored,
    concurrent_email_adds_are_all_kept,
    plain_json_content_type_is_accepted,
);

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn path(id: &str) -> String {
    format!("/Users/{id}")
}

/// GETs a user (200) and returns its body.
async fn get_user(t: &Tenant, id: &str) -> Value {
    let r = t.get(&path(id)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// PATCHes a user, expects 200 with the user, and returns the stored user read back with GET
/// (which must equal the response apart from nothing: PATCH answers the new representation).
async fn patched(t: &Tenant, id: &str, ops: Value) -> Value {
    let r = t.patch_ops(&path(id), ops.clone()).await;
    assert_eq!(r.status, 200, "{ops}: {:?}", r.body);
    assert_eq!(r.body["id"], id);
    assert_eq!(
        r.header("etag").as_deref(),
        r.body["meta"]["version"].as_str(),
        "ETag is meta.version"
    );
    let stored = get_user(t, id).await;
    assert_eq!(r.body, stored, "the PATCH response is the stored user");
    stored
}

fn version(user: &Value) -> String {
    user["meta"]["version"]
        .as_str()
        .expect("meta.version")
        .to_owned()
}

/// The `value`s of a multi-valued attribute, in order.
fn values(user: &Value, attr: &str) -> Vec<String> {
    user[attr]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["value"].as_str().expect("value").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn single_valued_add_replace_remove_with_and_without_path(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("sv", json!({"title": "Engineer"})).await;

    let u = patched(
        &t,
        &id,
        json!([{"op": "add", "path": "displayName", "value": "Sam V"}]),
    )
    .await;
    assert_eq!(u["displayName"], "Sam V");

    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "path": "title", "value": "Lead"}]),
    )
    .await;
    assert_eq!(u["title"], "Lead");
    assert_eq!(u["displayName"], "Sam V", "other attributes are kept");

    let u = patched(&t, &id, json!([{"op": "remove", "path": "title"}])).await;
    assert!(u.get("title").is_none(), "{u}");
    assert_eq!(u["displayName"], "Sam V");

    // Path-less add and replace merge the value object into the user.
    let u = patched(
        &t,
        &id,
        json!([{"op": "add", "value": {"nickName": "sammy", "title": "CTO"}}]),
    )
    .await;
    assert_eq!(u["nickName"], "sammy");
    assert_eq!(u["title"], "CTO");
    assert_eq!(u["displayName"], "Sam V");

    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "value": {"displayName": "Samuel", "locale": "fr-FR"}}]),
    )
    .await;
    assert_eq!(u["displayName"], "Samuel");
    assert_eq!(u["locale"], "fr-FR");
    assert_eq!(u["nickName"], "sammy");
    assert_eq!(u["userName"], "sv");

    // Attribute names are case-insensitive in paths.
    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "path": "NICKNAME", "value": "S"}]),
    )
    .await;
    assert_eq!(u["nickName"], "S");
    assert!(u.get("NICKNAME").is_none());

    // externalId is a common attribute, settable and removable by PATCH.
    let u = patched(
        &t,
        &id,
        json!([{"op": "add", "path": "externalId", "value": "ext-1"}]),
    )
    .await;
    assert_eq!(u["externalId"], "ext-1");
    assert_eq!(
        t.user_ids("externalId eq \"ext-1\"").await,
        vec![id.clone()]
    );
    let u = patched(&t, &id, json!([{"op": "remove", "path": "externalId"}])).await;
    assert!(u.get("externalId").is_none());
    assert!(t.user_ids("externalId eq \"ext-1\"").await.is_empty());
}

async fn complex_sub_attribute_and_object_value_merge(app: TestApp) {
    let t = app.tenant().await;
    let id = t
        .user(
            "cx",
            json!({"name": {"givenName": "Ann", "familyName": "Bee"}}),
        )
        .await;

    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "path": "name.givenName", "value": "Anna"}]),
    )
    .await;
    assert_eq!(u["name"], json!({"givenName": "Anna", "familyName": "Bee"}));

    // add `name` with an object merges sub-attributes, keeping the others.
    let u = patched(
        &t,
        &id,
        json!([{"op": "add", "path": "name", "value": {"middleName": "Q"}}]),
    )
    .await;
    assert_eq!(
        u["name"],
        json!({"givenName": "Anna", "familyName": "Bee", "middleName": "Q"})
    );

    // replace `name` with an object replaces the given sub-attributes and keeps the others.
    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "path": "name", "value": {"familyName": "Cee"}}]),
    )
    .await;
    assert_eq!(
        u["name"],
        json!({"givenName": "Anna", "familyName": "Cee", "middleName": "Q"})
    );

    // Path-less replace with a nested object merges the same way.
    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "value": {"name": {"formatted": "Anna Q Cee"}}}]),
    )
    .await;
    assert_eq!(u["name"]["formatted"], "Anna Q Cee");
    assert_eq!(u["name"]["givenName"], "Anna");

    let u = patched(
        &t,
        &id,
        json!([{"op": "remove", "path": "name.middleName"}]),
    )
    .await;
    assert_eq!(
        u["name"],
        json!({"givenName": "Anna", "familyName": "Cee", "formatted": "Anna Q Cee"})
    );

    // A sub-attribute on a user that has no `name` yet creates it.
    let id2 = t.user("cx2", json!({})).await;
    let u = patched(
        &t,
        &id2,
        json!([{"op": "add", "path": "name.familyName", "value": "Dee"}]),
    )
    .await;
    assert_eq!(u["name"], json!({"familyName": "Dee"}));

    let u = patched(&t, &id, json!([{"op": "remove", "path": "name"}])).await;
    assert!(u.get("name").is_none(), "{u}");
}

async fn multi_valued_add_appends_once_replace_replaces_remove_clears(app: TestApp) {
    let t = app.tenant().await;
    let id = t
        .user("mv", json!({"emails": [{"value": "a@x", "type": "work"}]}))
        .await;
    let before = get_user(&t, &id).await;

    // Adding an identical value changes nothing, not even the version.
    let u = patched(
        &t,
        &id,
        json!([{"op": "add", "path": "emails", "value": [{"value": "a@x", "type": "work"}]}]),
    )
    .await;
    assert_eq!(u["emails"], json!([{"value": "a@x", "type": "work"}]));
    assert_eq!(version(&u), version(&before));

    let u = patched(
        &t,
        &id,
        json!([{"op": "add", "path": "emails", "value": [{"value": "b@x", "type": "home"}]}]),
    )
    .await;
    assert_eq!(
        u["emails"],
        json!([{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}])
    );
    assert_eq!(
        t.user_ids("emails.value eq \"b@x\"").await,
        vec![id.clone()],
        "the filter index follows the PATCH"
    );

    // Path-less add appends too.
    let u = patched(
        &t,
        &id,
        json!([{"op": "add", "value": {"emails": [{"value": "c@x"}, {"value": "a@x", "type": "work"}]}}]),
    )
    .await;
    assert_eq!(values(&u, "emails"), vec!["a@x", "b@x", "c@x"]);

    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "path": "emails", "value": [{"value": "z@x", "type": "other"}]}]),
    )
    .await;
    assert_eq!(u["emails"], json!([{"value": "z@x", "type": "other"}]));
    assert!(t.user_ids("emails.value eq \"a@x\"").await.is_empty());

    // Another multi-valued attribute, set from nothing by add.
    let u = patched(
        &t,
        &id,
        json!([{"op": "add", "path": "phoneNumbers", "value": [{"value": "+1 555", "type": "work"}]}]),
    )
    .await;
    assert_eq!(
        u["phoneNumbers"],
        json!([{"value": "+1 555", "type": "work"}])
    );

    let u = patched(&t, &id, json!([{"op": "remove", "path": "emails"}])).await;
    assert!(u.get("emails").is_none(), "{u}");
    assert_eq!(values(&u, "phoneNumbers"), vec!["+1 555"]);
    assert!(t.user_ids("emails pr").await.is_empty());
}

async fn value_path_filters_change_only_matching_elements(app: TestApp) {
    let t = app.tenant().await;
    let id = t
        .user(
            "vp",
            json!({
                "emails": [{"value": "w@x", "type": "work", "primary": true},
                           {"value": "h@x", "type": "home"}],
                "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"},
                              {"type": "home", "streetAddress": "2 Elm St"}],
            }),
        )
        .await;

    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w2@x"}]),
    )
    .await;
    assert_eq!(
        u["emails"],
        json!([{"value": "w2@x", "type": "work", "primary": true},
               {"value": "h@x", "type": "home"}])
    );

    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "9 Oak Ave"}]),
    )
    .await;
    assert_eq!(
        u["addresses"],
        json!([{"type": "work", "streetAddress": "9 Oak Ave", "locality": "Springfield"},
               {"type": "home", "streetAddress": "2 Elm St"}])
    );

    // A filter matching nothing on replace: 400 noTarget, nothing stored.
    let before = get_user(&t, &id).await;
    t.patch_ops(
        &path(&id),
        json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "o@x"}]),
    )
    .await
    .assert_error(400, Some("noTarget"));
    assert_eq!(get_user(&t, &id).await, before);

    let u = patched(
        &t,
        &id,
        json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
    )
    .await;
    assert_eq!(
        u["emails"],
        json!([{"value": "w2@x", "type": "work", "primary": true}])
    );
    assert_eq!(u["addresses"].as_array().map(Vec::len), Some(2));

    // Removing the last matching element unassigns the attribute.
    let u = patched(
        &t,
        &id,
        json!([{"op": "remove", "path": "emails[value eq \"w2@x\"]"}]),
    )
    .await;
    assert!(u.get("emails").is_none(), "{u}");
}

async fn filtered_add_matching_nothing_creates_the_element(app: TestApp) {
    let t = app.tenant().await;
    let id = t
        .user("fa", json!({"emails": [{"value": "w@x", "type": "work"}]}))
        .await;
    let u = patched(
        &t,
        &id,
        json!([{"op": "add", "path": "emails[type eq \"home\"].value", "value": "h@x"}]),
    )
    .await;
    assert_eq!(
        u["emails"],
        json!([{"value": "w@x", "type": "work"}, {"type": "home", "value": "h@x"}])
    );
    assert_eq!(
        t.user_ids("emails[type eq \"home\" and value eq \"h@x\"]")
            .await,
        vec![id]
    );

    // Also when the user has no emails at all.
    let id2 = t.user("fa2", json!({})).await;
    let u = patched(
        &t,
        &id2,
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "w2@x"}]),
    )
    .await;
    assert_eq!(u["emails"], json!([{"type": "work", "value": "w2@x"}]));

    // A filtered add that does match updates the matching element instead.
    let u = patched(
        &t,
        &id2,
        json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "w3@x"}]),
    )
    .await;
    assert_eq!(u["emails"], json!([{"type": "work", "value": "w3@x"}]));
}

async fn primary_stays_exclusive(app: TestApp) {
    let t = app.tenant().await;
    let id = t
        .user(
            "pr",
            json!({"emails": [{"value": "w@x", "type": "work", "primary": true}]}),
        )
        .await;
    let primaries = |u: &Value| -> Vec<String> {
        u["emails"]
            .as_array()
            .expect("emails")
            .iter()
            .filter(|e| e["primary"] == true)
            .map(|e| e["value"].as_str().expect("value").to_owned())
            .collect()
    };

    let u = patched(
        &t,
        &id,
        json!([{"op": "add", "path": "emails",
                "value": [{"value": "h@x", "type": "home", "primary": true}]}]),
    )
    .await;
    assert_eq!(primaries(&u), vec!["h@x"]);
    assert_eq!(
        u["emails"][0]["primary"], false,
        "the old primary is demoted"
    );

    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": true}]),
    )
    .await;
    assert_eq!(primaries(&u), vec!["w@x"]);
    assert_eq!(u["emails"][1]["primary"], false);

    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
    )
    .await;
    assert_eq!(primaries(&u), vec!["h@x"]);
    assert_eq!(
        t.user_ids("emails[primary eq true and value eq \"w@x\"]")
            .await,
        Vec::<String>::new()
    );
}

async fn entra_pascal_case_ops_and_string_booleans(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("entra", json!({"title": "T"})).await;

    let u = patched(
        &t,
        &id,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await;
    assert_eq!(u["active"], json!(false), "stored as a boolean");
    assert_eq!(t.user_ids("active eq false").await, vec![id.clone()]);

    let u = patched(
        &t,
        &id,
        json!([{"op": "Replace", "value": {"active": "True"}}]),
    )
    .await;
    assert_eq!(u["active"], json!(true));
    assert!(t.user_ids("active eq false").await.is_empty());

    let u = patched(
        &t,
        &id,
        json!([{"op": "Add", "path": "displayName", "value": "Entra User"},
               {"op": "Remove", "path": "title"},
               {"op": "Add", "value": {"active": "false"}}]),
    )
    .await;
    assert_eq!(u["displayName"], "Entra User");
    assert!(u.get("title").is_none());
    assert_eq!(u["active"], json!(false));

    // Other casings of the op and of the PatchOp keys.
    let r = t
        .patch(
            &path(&id),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "operations": [{"OP": "REPLACE", "Path": "nickName", "Value": "e"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(get_user(&t, &id).await["nickName"], "e");
}

async fn entra_pathless_replace_with_dotted_and_urn_keys(app: TestApp) {
    let t = app.tenant().await;
    let id = t
        .user(
            "dotted",
            json!({"name": {"familyName": "Old"}, "displayName": "Old",
                   "emails": [{"value": "old@x", "type": "work"}, {"value": "h@x", "type": "home"}]}),
        )
        .await;
    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "value": {
            "name.givenName": "Ada",
            "name.familyName": "Lovelace",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
            "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "Ada Lovelace",
            "emails[type eq \"work\"].value": "ada@x",
            "externalId": "ext-ada",
        }}]),
    )
    .await;
    assert_eq!(
        u["name"],
        json!({"familyName": "Lovelace", "givenName": "Ada"})
    );
    assert_eq!(u["displayName"], "Ada Lovelace");
    assert_eq!(u[ENTERPRISE]["department"], "R&D");
    assert_eq!(u[ENTERPRISE]["employeeNumber"], "42");
    assert_eq!(
        u["emails"],
        json!([{"value": "ada@x", "type": "work"}, {"value": "h@x", "type": "home"}])
    );
    assert_eq!(u["externalId"], "ext-ada");
    assert!(
        u["schemas"]
            .as_array()
            .expect("schemas")
            .contains(&json!(ENTERPRISE)),
        "{u}"
    );
    assert!(
        u.get("name.givenName").is_none()
            && u.get("urn:ietf:params:scim:schemas:core:2.0:User:displayName")
                .is_none(),
        "no keys stored under their dotted or URN spelling: {u}"
    );
    assert_eq!(
        t.user_ids(&format!("{ENTERPRISE}:department eq \"R&D\""))
            .await,
        vec![id.clone()]
    );

    // The extension as one object in a path-less value.
    let u = patched(
        &t,
        &id,
        json!([{"op": "add", "value": {ENTERPRISE: {"costCenter": "CC1"}}}]),
    )
    .await;
    assert_eq!(u[ENTERPRISE]["costCenter"], "CC1");
    assert_eq!(u[ENTERPRISE]["department"], "R&D", "merged, not replaced");
}

async fn entra_manager_array_is_stored_as_object(app: TestApp) {
    let t = app.tenant().await;
    let boss = t.user("boss", json!({})).await;
    let boss2 = t.user("boss2", json!({})).await;
    let id = t.user("report", json!({})).await;
    let manager_path = format!("{ENTERPRISE}:manager");

    let u = patched(
        &t,
        &id,
        json!([{"op": "Add", "path": manager_path, "value": [{"value": boss}]}]),
    )
    .await;
    assert_eq!(u[ENTERPRISE]["manager"], json!({"value": boss}));

    let u = patched(
        &t,
        &id,
        json!([{"op": "Replace", "path": manager_path,
                "value": [{"$ref": format!("{}/Users/{boss2}", t.scim), "value": boss2}]}]),
    )
    .await;
    assert!(u[ENTERPRISE]["manager"].is_object(), "{u}");
    assert_eq!(u[ENTERPRISE]["manager"]["value"], boss2.as_str());
    assert_eq!(
        t.user_ids(&format!("{ENTERPRISE}:manager.value eq \"{boss2}\""))
            .await,
        vec![id.clone()]
    );

    let u = patched(&t, &id, json!([{"op": "Remove", "path": manager_path}])).await;
    assert!(u.get(ENTERPRISE).is_none(), "{u}");
}

async fn entra_empty_string_and_null_unassign(app: TestApp) {
    let t = app.tenant().await;
    let id = t
        .user(
            "nulls",
            json!({"title": "T", "displayName": "D", "nickName": "N", "locale": "en",
                   ENTERPRISE: {"department": "Dept"}}),
        )
        .await;
    let u = patched(
        &t,
        &id,
        json!([{"op": "Replace", "path": "title", "value": ""},
               {"op": "Replace", "path": "displayName", "value": null},
               {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": ""},
               {"op": "Replace", "value": {"nickName": null, "locale": ""}}]),
    )
    .await;
    for gone in ["title", "displayName", "nickName", "locale", ENTERPRISE] {
        assert!(u.get(gone).is_none(), "{gone} is unassigned: {u}");
    }
    assert_eq!(
        u["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"]),
        "an emptied extension leaves schemas"
    );
    assert!(t.user_ids("title pr").await.is_empty());
    assert!(t.user_ids("displayName pr").await.is_empty());
}

async fn okta_pathless_deactivate_keeps_user_listed(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("okta.user@example.com", json!({})).await;
    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await;
    assert_eq!(u["active"], json!(false));
    assert_eq!(
        t.user_ids("userName eq \"OKTA.USER@example.com\"").await,
        vec![id.clone()],
        "inactive users are still found by userName"
    );
    let all = t.get("/Users").await;
    assert_eq!(all.body["totalResults"], 1);
    assert_eq!(all.body["Resources"][0]["active"], json!(false));

    // Reactivation.
    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "value": {"active": true}}]),
    )
    .await;
    assert_eq!(u["active"], json!(true));
}

async fn okta_pathless_replace_ignores_read_only_keys(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("okta2", json!({})).await;
    let before = get_user(&t, &id).await;
    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "value": {
            "id": "00000000-0000-0000-0000-000000000001",
            "userName": "okta2-renamed",
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "meta": {"created": "2001-01-01T00:00:00Z", "resourceType": "Group", "version": "W/\"99\""},
            "groups": [{"value": "g1"}],
            "displayName": "Okta Two",
        }}]),
    )
    .await;
    assert_eq!(u["id"], id.as_str());
    assert_eq!(u["userName"], "okta2-renamed");
    assert_eq!(u["displayName"], "Okta Two");
    assert_eq!(u["meta"]["created"], before["meta"]["created"]);
    assert_eq!(u["meta"]["resourceType"], "User");
    assert_eq!(u["meta"]["version"], "W/\"2\"");
    assert!(u.get("groups").is_none(), "{u}");
    assert_eq!(
        t.user_ids("userName eq \"okta2-renamed\"").await,
        vec![id.clone()]
    );
    assert!(t.user_ids("userName eq \"okta2\"").await.is_empty());
    t.get("/Users/00000000-0000-0000-0000-000000000001")
        .await
        .assert_error(404, None);
}

async fn pathless_value_ignores_read_only_and_unknown_schema_keys(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("ro", json!({})).await;
    let u = patched(
        &t,
        &id,
        json!([{"op": "add", "value": {
            "groups": [{"value": "g1", "display": "G"}],
            "urn:example:custom:2.0:User": {"badge": "7"},
            "urn:example:custom:2.0:User:badge": "7",
            "noSuchAttribute": 1,
            "emails": [{"value": "e@x", "display": "E"}],
            "title": "Set",
        }}]),
    )
    .await;
    assert_eq!(u["title"], "Set");
    assert_eq!(values(&u, "emails"), vec!["e@x"]);
    for ignored in [
        "groups",
        "urn:example:custom:2.0:User",
        "urn:example:custom:2.0:User:badge",
        "noSuchAttribute",
    ] {
        assert!(u.get(ignored).is_none(), "{ignored}: {u}");
    }
    assert_eq!(
        u["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
}

async fn invalid_patches_get_the_right_error_and_change_nothing(app: TestApp) {
    let t = app.tenant().await;
    let id = t
        .user(
            "err",
            json!({"displayName": "E", "emails": [{"value": "e@x"}]}),
        )
        .await;
    let before = get_user(&t, &id).await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!([{"op": "replace", "path": "groups", "value": [{"value": "g"}]}]),
            "mutability",
        ),
        (
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "meta.created", "value": "2001-01-01T00:00:00Z"}]),
            "mutability",
        ),
        (json!([{"op": "remove", "path": "userName"}]), "mutability"),
        (
            json!([{"op": "replace", "path": "userName", "value": ""}]),
            "invalidValue",
        ),
        (json!([{"op": "remove"}]), "noTarget"),
        (
            json!([{"op": "remove", "value": {"displayName": "E"}}]),
            "noTarget",
        ),
        (
            json!([{"op": "add", "path": "emails[type eq", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "noSuchAttribute", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "name.noSuchPart", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "urn:example:custom:2.0:User:badge", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "copy", "path": "displayName", "value": "x"}]),
            "invalidSyntax",
        ),
        (
            json!([{"path": "displayName", "value": "x"}]),
            "invalidSyntax",
        ),
        (json!([]), "invalidSyntax"),
        (
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            "invalidValue",
        ),
    ];
    for (ops, scim_type) in cases {
        let r = t.patch_ops(&path(&id), ops.clone()).await;
        assert_eq!(r.scim_type(), Some(scim_type), "{ops}: {:?}", r.body);
        r.assert_error(400, Some(scim_type));
    }
    // A body without Operations, and one that is not JSON.
    t.patch(
        &path(&id),
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}),
    )
    .await
    .assert_error(400, Some("invalidSyntax"));
    let r = t
        .send(
            t.req(reqwest::Method::PATCH, &path(&id))
                .header("content-type", "application/scim+json")
                .body("{\"Operations\": ["),
        )
        .await;
    r.assert_error(400, Some("invalidSyntax"));

    assert_eq!(get_user(&t, &id).await, before, "nothing changed");
}

async fn failing_second_operation_rolls_back_the_first(app: TestApp) {
    let t = app.tenant().await;
    let id = t
        .user(
            "atomic",
            json!({"displayName": "Before", "emails": [{"value": "a@x", "type": "work"}]}),
        )
        .await;
    let before = get_user(&t, &id).await;

    t.patch_ops(
        &path(&id),
        json!([{"op": "replace", "path": "displayName", "value": "After"},
               {"op": "remove", "path": "userName"}]),
    )
    .await
    .assert_error(400, Some("mutability"));
    let now = get_user(&t, &id).await;
    assert_eq!(now["displayName"], "Before");
    assert_eq!(version(&now), version(&before));
    assert_eq!(now, before);

    t.patch_ops(
        &path(&id),
        json!([{"op": "add", "path": "emails", "value": [{"value": "b@x"}]},
               {"op": "replace", "path": "title", "value": "T"},
               {"op": "replace", "path": "emails[type eq \"home\"].value", "value": "h@x"}]),
    )
    .await
    .assert_error(400, Some("noTarget"));
    assert_eq!(get_user(&t, &id).await, before);
    assert!(t.user_ids("emails.value eq \"b@x\"").await.is_empty());

    // A uniqueness failure after other operations rolls back too.
    t.user("taken", json!({})).await;
    t.patch_ops(
        &path(&id),
        json!([{"op": "replace", "path": "displayName", "value": "After"},
               {"op": "replace", "path": "userName", "value": "TAKEN"}]),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    assert_eq!(get_user(&t, &id).await, before);
}

async fn patch_on_missing_user_is_404(app: TestApp) {
    let t = app.tenant().await;
    let ops = json!([{"op": "replace", "path": "displayName", "value": "x"}]);
    t.patch_ops("/Users/00000000-0000-0000-0000-000000000000", ops.clone())
        .await
        .assert_error(404, None);
    t.patch_ops("/Users/not-a-uuid", ops.clone())
        .await
        .assert_error(404, None);
    // A user of another tenant is not found either.
    let other = app.tenant().await;
    let theirs = other.user("theirs", json!({"displayName": "Theirs"})).await;
    t.patch_ops(&path(&theirs), ops)
        .await
        .assert_error(404, None);
    assert_eq!(get_user(&other, &theirs).await["displayName"], "Theirs");
}

async fn noop_patch_keeps_version_and_real_change_bumps_it(app: TestApp) {
    let t = app.tenant().await;
    let id = t
        .user("ver", json!({"displayName": "Same", "active": true}))
        .await;
    let before = get_user(&t, &id).await;
    assert_eq!(version(&before), "W/\"1\"");

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "path": "displayName", "value": "Same"},
               {"op": "replace", "value": {"active": true}}]),
    )
    .await;
    assert_eq!(version(&u), "W/\"1\"");
    assert_eq!(u["meta"]["lastModified"], before["meta"]["lastModified"]);

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let u = patched(
        &t,
        &id,
        json!([{"op": "replace", "path": "displayName", "value": "Changed"}]),
    )
    .await;
    assert_eq!(version(&u), "W/\"2\"");
    let (old, new) = (
        before["meta"]["lastModified"]
            .as_str()
            .expect("lastModified"),
        u["meta"]["lastModified"].as_str().expect("lastModified"),
    );
    assert!(new > old, "lastModified moves forward: {old} -> {new}");
    assert_eq!(u["meta"]["created"], before["meta"]["created"]);

    // If-Match with the old version is refused; with the current one it applies.
    let stale = t
        .send(
            t.req(reqwest::Method::PATCH, &path(&id))
                .header("content-type", "application/scim+json")
                .header("if-match", "W/\"1\"")
                .body(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "displayName", "value": "Stale"}]})
                    .to_string(),
                ),
        )
        .await;
    stale.assert_error(412, None);
    assert_eq!(get_user(&t, &id).await["displayName"], "Changed");
}

async fn password_replace_is_accepted_and_never_returned(app: TestApp) {
    let t = app.tenant_with_scim_passwords().await;
    let r = t
        .post(
            "/Users",
            &json!({"userName": "pw", "password": "first secret"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let first = stored_hash(&app, &id).await;

    let r = t
        .patch_ops(
            &path(&id),
            json!([{"op": "replace", "path": "password", "value": "second secret"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("password").is_none(), "{:?}", r.body);
    assert!(!r.body.to_string().contains("second secret"));
    let second = stored_hash(&app, &id).await;
    assert!(second.starts_with("$argon2id$"), "{second}");
    assert_ne!(first, second, "the new password is stored");
    assert!(!second.contains("second secret"));

    // Path-less, as Okta sends it.
    let r = t
        .patch_ops(
            &path(&id),
            json!([{"op": "replace", "value": {"password": "third secret"}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("password").is_none());
    assert_ne!(stored_hash(&app, &id).await, second);

    let got = t.get(&format!("/Users/{id}?attributes=password")).await;
    assert!(got.body.get("password").is_none(), "{:?}", got.body);
    assert!(!get_user(&t, &id).await.to_string().contains("secret"));
}

/// A URN-qualified `password` path or path-less key stores the password like the bare name.
async fn password_by_urn_qualified_path_is_stored(app: TestApp) {
    let t = app.tenant_with_scim_passwords().await;
    let r = t
        .post(
            "/Users",
            &json!({"userName": "pwurn", "password": "first secret"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let first = stored_hash(&app, &id).await;

    let r = t
        .patch_ops(
            &path(&id),
            json!([{"op": "replace",
                    "path": "urn:ietf:params:scim:schemas:core:2.0:User:password",
                    "value": "second secret"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let second = stored_hash(&app, &id).await;
    assert_ne!(first, second, "a 200 PATCH of the password must store it");

    let r = t
        .patch_ops(
            &path(&id),
            json!([{"op": "replace", "value": {
                "urn:ietf:params:scim:schemas:core:2.0:User:password": "third secret"}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_ne!(stored_hash(&app, &id).await, second);
}

/// The password hash stored for a user.
async fn stored_hash(app: &TestApp, id: &str) -> String {
    let id = id.to_owned();
    app.state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use muster::db::schema::users;
            users::table
                .filter(users::id.eq(&id))
                .select(users::password_hash)
                .first::<Option<String>>(c)
                .map_err(muster::db::DbError::from)
        })
        .await
        .expect("hash")
        .expect("a password hash")
}

async fn concurrent_email_adds_are_all_kept(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("busy", json!({})).await;
    let p = path(&id);
    let requests = (0..32).map(|i| {
        let (t, p) = (t.clone(), p.clone());
        async move {
            t.patch_ops(
                &p,
                json!([{"op": "add", "path": "emails", "value": [{"value": format!("u{i}@x")}]}]),
            )
            .await
        }
    });
    for r in futures_util::future::join_all(requests).await {
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let u = get_user(&t, &id).await;
    let mut got = values(&u, "emails");
    got.sort();
    let mut want: Vec<String> = (0..32).map(|i| format!("u{i}@x")).collect();
    want.sort();
    assert_eq!(got, want, "no lost update");
    assert_eq!(version(&u), "W/\"33\"", "32 serialised writes");
}

async fn plain_json_content_type_is_accepted(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("ct", json!({})).await;
    for (ct, name) in [
        ("application/json", "plain"),
        ("application/scim+json", "scim"),
        ("application/json; charset=utf-8", "charset"),
    ] {
        let r = t
            .send(
                t.req(reqwest::Method::PATCH, &path(&id))
                    .header("content-type", ct)
                    .body(
                        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "displayName", "value": name}]})
                        .to_string(),
                    ),
            )
            .await;
        assert_eq!(r.status, 200, "{ct}: {:?}", r.body);
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/scim+json")
        );
        assert_eq!(get_user(&t, &id).await["displayName"], name);
    }
}
