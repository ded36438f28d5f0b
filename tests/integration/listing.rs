//! Listing: 1-based paging, sorting, `attributes`/`excludedAttributes` on every operation that
//! returns a resource, `POST .search`, and the tenant-root search across Users and Groups.

use crate::util::{Resp, Tenant, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

crate::on_both_backends!(
    pages_are_one_based_stable_and_cover_every_user,
    start_index_below_one_is_treated_as_one,
    count_zero_or_negative_returns_only_the_total,
    count_above_max_results_still_answers,
    start_index_past_the_end_is_an_empty_page,
    filtered_pages_start_past_count,
    non_integer_paging_is_invalid_value,
    sort_by_user_name_is_case_insensitive,
    sort_by_family_name_puts_missing_values_last,
    sort_by_emails_value,
    sort_by_multi_valued_attribute_uses_primary_then_first_value,
    sort_by_meta_created_and_last_modified,
    sorted_pages_with_ties_are_stable,
    invalid_sort_parameters_are_rejected,
    unknown_sort_by_is_rejected_even_when_nothing_matches,
    attributes_select_on_get_by_id,
    excluded_attributes_on_get_by_id,
    extension_attributes_project_by_urn,
    projections_apply_to_lists_and_search,
    projections_apply_to_write_responses,
    attributes_and_excluded_attributes_together_are_rejected,
    group_members_render_and_can_be_excluded,
    user_groups_are_derived_and_read_only,
    search_request_gives_the_same_result_as_get,
    root_lists_users_then_groups_paged_across_both,
    root_search_with_a_filter_only_one_type_understands,
    root_search_sorts_by_an_attribute_only_users_have,
);

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// GET `endpoint` with these query parameters; asserts a 200.
async fn list(t: &Tenant, endpoint: &str, query: &[(&str, &str)]) -> Resp {
    let r = t.send(t.req(Method::GET, endpoint).query(query)).await;
    assert_eq!(r.status, 200, "GET {endpoint} {query:?}: {:?}", r.body);
    assert_eq!(r.body["schemas"], json!([LIST_RESPONSE]));
    r
}

/// The ids of a list response's Resources, in order.
fn ids(r: &Resp) -> Vec<String> {
    r.body["Resources"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| u["id"].as_str().expect("id").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The `userName`s of a list response's Resources, in order.
fn user_names(r: &Resp) -> Vec<String> {
    r.body["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|u| u["userName"].as_str().expect("userName").to_owned())
        .collect()
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
    items.iter().copied().collect()
}

async fn sorted_names(t: &Tenant, sort_by: &str, order: &str) -> Vec<String> {
    let r = list(
        t,
        "/Users",
        &[("sortBy", sort_by), ("sortOrder", order), ("count", "100")],
    )
    .await;
    user_names(&r)
}

/// Creates users `prefix0..prefix{n-1}` and returns their ids.
async fn make_users(t: &Tenant, prefix: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(t.user(&format!("{prefix}{i}"), json!({})).await);
    }
    out
}

async fn pages_are_one_based_stable_and_cover_every_user(app: TestApp) {
    let t = app.tenant().await;
    let created = make_users(&t, "p", 7).await;
    let all = list(&t, "/Users", &[]).await;
    assert_eq!(all.body["totalResults"], json!(7));
    let everyone = ids(&all);
    assert_eq!(
        everyone.iter().collect::<BTreeSet<_>>(),
        created.iter().collect::<BTreeSet<_>>()
    );
    let mut paged = Vec::new();
    for (start, len) in [("1", 3), ("4", 3), ("7", 1)] {
        let r = list(&t, "/Users", &[("startIndex", start), ("count", "3")]).await;
        // Integers, not strings (Okta), and the requested startIndex back (Entra).
        assert_eq!(r.body["totalResults"], json!(7), "{start}");
        assert_eq!(r.body["itemsPerPage"], json!(len), "{start}");
        assert_eq!(
            r.body["startIndex"],
            json!(start.parse::<i64>().unwrap()),
            "{start}"
        );
        let page = ids(&r);
        assert_eq!(page.len(), len, "{start}");
        // Asking again gives the same page.
        let again = list(&t, "/Users", &[("startIndex", start), ("count", "3")]).await;
        assert_eq!(ids(&again), page, "page at {start} is not stable");
        paged.extend(page);
    }
    assert_eq!(paged, everyone, "pages in order are the whole list");
    // Parameter names are case-insensitive.
    let r = list(&t, "/Users", &[("StartIndex", "4"), ("COUNT", "3")]).await;
    assert_eq!(ids(&r), paged[3..6].to_vec());
    assert_eq!(r.body["startIndex"], json!(4));
    // Pages of another size agree with the same order.
    let r = list(&t, "/Users", &[("startIndex", "3"), ("count", "4")]).await;
    assert_eq!(ids(&r), everyone[2..6].to_vec());
}

async fn start_index_below_one_is_treated_as_one(app: TestApp) {
    let t = app.tenant().await;
    make_users(&t, "s", 4).await;
    let first = ids(&list(&t, "/Users", &[("startIndex", "1"), ("count", "2")]).await);
    assert_eq!(first.len(), 2);
    for start in ["0", "-5"] {
        let r = list(&t, "/Users", &[("startIndex", start), ("count", "2")]).await;
        assert_eq!(ids(&r), first, "startIndex={start}");
        assert_eq!(r.body["startIndex"], json!(1), "startIndex={start}");
        assert_eq!(r.body["totalResults"], json!(4));
    }
}

async fn count_zero_or_negative_returns_only_the_total(app: TestApp) {
    let t = app.tenant().await;
    make_users(&t, "c", 3).await;
    for count in ["0", "-1", "-100"] {
        let r = list(&t, "/Users", &[("count", count)]).await;
        assert_eq!(r.body["totalResults"], json!(3), "count={count}");
        assert_eq!(r.body["itemsPerPage"], json!(0), "count={count}");
        let resources = &r.body["Resources"];
        assert!(
            resources.is_null() || resources == &json!([]),
            "count={count}: {resources}"
        );
    }
    // With a filter too.
    let r = list(
        &t,
        "/Users",
        &[("count", "0"), ("filter", r#"userName sw "c""#)],
    )
    .await;
    assert_eq!(r.body["totalResults"], json!(3));
    assert_eq!(ids(&r), Vec::<String>::new());
}

async fn count_above_max_results_still_answers(app: TestApp) {
    let t = app.tenant().await;
    let created = make_users(&t, "m", 5).await;
    let r = list(&t, "/Users", &[("count", "5000")]).await;
    assert_eq!(r.body["totalResults"], json!(5));
    assert_eq!(r.body["itemsPerPage"], json!(5));
    assert_eq!(ids(&r), created);
    let r = list(&t, "/Users", &[("count", "99999999999")]).await;
    assert_eq!(ids(&r), created);
    // The cap is the advertised maxResults.
    let spc = t.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200);
    assert_eq!(spc.body["filter"]["maxResults"], json!(1000));
}

async fn start_index_past_the_end_is_an_empty_page(app: TestApp) {
    let t = app.tenant().await;
    make_users(&t, "e", 3).await;
    for start in ["4", "100"] {
        let r = list(&t, "/Users", &[("startIndex", start), ("count", "10")]).await;
        assert_eq!(r.body["totalResults"], json!(3), "{start}");
        assert_eq!(r.body["itemsPerPage"], json!(0), "{start}");
        assert_eq!(r.body["startIndex"], json!(start.parse::<i64>().unwrap()));
        let resources = &r.body["Resources"];
        assert!(
            resources.is_null() || resources == &json!([]),
            "{resources}"
        );
    }
}

/// SCIM-SDK #131: an empty page when `startIndex` is past `count` with a filter.
async fn filtered_pages_start_past_count(app: TestApp) {
    let t = app.tenant().await;
    let mut eng = Vec::new();
    for i in 0..7 {
        let title = if i % 3 == 2 { "Sales" } else { "Eng" };
        let id = t.user(&format!("f{i}"), json!({"title": title})).await;
        if title == "Eng" {
            eng.push(id);
        }
    }
    assert_eq!(eng.len(), 5);
    let filter = r#"title eq "Eng""#;
    let r = list(
        &t,
        "/Users",
        &[("filter", filter), ("startIndex", "4"), ("count", "2")],
    )
    .await;
    assert_eq!(r.body["totalResults"], json!(5));
    assert_eq!(ids(&r), eng[3..5].to_vec());
    let r = list(
        &t,
        "/Users",
        &[("filter", filter), ("startIndex", "5"), ("count", "2")],
    )
    .await;
    assert_eq!(ids(&r), eng[4..5].to_vec());
}

async fn non_integer_paging_is_invalid_value(app: TestApp) {
    let t = app.tenant().await;
    t.user("x", json!({})).await;
    for (k, v) in [
        ("count", "abc"),
        ("count", "1.5"),
        ("count", "10x"),
        ("startIndex", "one"),
        ("startIndex", "2.0"),
    ] {
        let r = t.send(t.req(Method::GET, "/Users").query(&[(k, v)])).await;
        r.assert_error(400, Some("invalidValue"));
        let r = t
            .post(
                "/Users/.search",
                &json!({"schemas": [SEARCH_REQUEST], k: v}),
            )
            .await;
        r.assert_error(400, Some("invalidValue"));
    }
}

async fn sort_by_user_name_is_case_insensitive(app: TestApp) {
    let t = app.tenant().await;
    for name in ["carol", "alice", "Bob", "dave", "Aaron"] {
        t.user(name, json!({})).await;
    }
    let asc = ["Aaron", "alice", "Bob", "carol", "dave"];
    let desc = ["dave", "carol", "Bob", "alice", "Aaron"];
    assert_eq!(sorted_names(&t, "userName", "ascending").await, asc);
    assert_eq!(sorted_names(&t, "userName", "descending").await, desc);
    // sortOrder defaults to ascending; names and values compare case-insensitively.
    let r = list(&t, "/Users", &[("sortBy", "userName")]).await;
    assert_eq!(user_names(&r), asc);
    assert_eq!(sorted_names(&t, "USERNAME", "Descending").await, desc);
    // The same through .search.
    let r = t
        .post(
            "/Users/.search",
            &json!({"schemas": [SEARCH_REQUEST], "sortBy": "userName", "sortOrder": "descending"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(user_names(&r), desc);
}

async fn sort_by_family_name_puts_missing_values_last(app: TestApp) {
    let t = app.tenant().await;
    t.user("f1", json!({"name": {"familyName": "Zeta"}})).await;
    t.user("f2", json!({})).await;
    t.user("f3", json!({"name": {"familyName": "alpha"}})).await;
    t.user(
        "f4",
        json!({"name": {"familyName": "Mu", "givenName": "G"}}),
    )
    .await;
    t.user("f5", json!({"name": {"givenName": "OnlyGiven"}}))
        .await;
    assert_eq!(
        sorted_names(&t, "name.familyName", "ascending").await,
        ["f3", "f4", "f1", "f2", "f5"]
    );
    assert_eq!(
        sorted_names(&t, "name.familyName", "descending").await,
        ["f1", "f4", "f3", "f2", "f5"]
    );
}

async fn sort_by_emails_value(app: TestApp) {
    let t = app.tenant().await;
    t.user("e1", json!({"emails": [{"value": "m@x.com"}]}))
        .await;
    t.user("e2", json!({"emails": [{"value": "B@x.com"}]}))
        .await;
    t.user("e3", json!({"emails": [{"value": "z@x.com"}]}))
        .await;
    t.user("e4", json!({})).await;
    assert_eq!(
        sorted_names(&t, "emails.value", "ascending").await,
        ["e2", "e1", "e3", "e4"]
    );
    assert_eq!(
        sorted_names(&t, "emails.value", "descending").await,
        ["e3", "e1", "e2", "e4"]
    );
    // Without a sub-attribute, a multi-valued attribute sorts by its value.
    assert_eq!(
        sorted_names(&t, "emails", "ascending").await,
        ["e2", "e1", "e3", "e4"]
    );
}

/// RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary value, or else by its first
/// value; not by the smallest one.
async fn sort_by_multi_valued_attribute_uses_primary_then_first_value(app: TestApp) {
    let t = app.tenant().await;
    t.user("a", json!({"emails": [{"value": "b@x.com"}]})).await;
    // Primary z@, first a@.
    t.user(
        "b",
        json!({"emails": [{"value": "a@x.com"}, {"value": "z@x.com", "primary": true}]}),
    )
    .await;
    // No primary: the first, c@, not the smallest, 0@.
    t.user(
        "c",
        json!({"emails": [{"value": "c@x.com"}, {"value": "0@x.com"}]}),
    )
    .await;
    assert_eq!(
        sorted_names(&t, "emails.value", "ascending").await,
        ["a", "c", "b"]
    );
}

async fn sort_by_meta_created_and_last_modified(app: TestApp) {
    let t = app.tenant().await;
    let mut ids_in_order = Vec::new();
    // Created in an order their names do not follow.
    for name in ["m2", "m3", "m1"] {
        ids_in_order.push(t.user(name, json!({})).await);
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        sorted_names(&t, "meta.created", "ascending").await,
        ["m2", "m3", "m1"]
    );
    assert_eq!(
        sorted_names(&t, "meta.created", "descending").await,
        ["m1", "m3", "m2"]
    );
    let r = t
        .patch_ops(
            &format!("/Users/{}", ids_in_order[0]),
            json!([{"op": "replace", "path": "title", "value": "touched"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        sorted_names(&t, "meta.lastModified", "descending").await,
        ["m2", "m1", "m3"]
    );
    assert_eq!(
        sorted_names(&t, "meta.created", "ascending").await,
        ["m2", "m3", "m1"]
    );
}

async fn sorted_pages_with_ties_are_stable(app: TestApp) {
    let t = app.tenant().await;
    for (i, title) in ["B", "A", "B", "C", "A", "B", "A"].iter().enumerate() {
        t.user(&format!("t{i}"), json!({"title": title})).await;
    }
    let full = list(&t, "/Users", &[("sortBy", "title"), ("count", "100")]).await;
    let everyone = ids(&full);
    let titles: Vec<&str> = full.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["A", "A", "A", "B", "B", "B", "C"]);
    for order in ["ascending", "descending"] {
        let full = ids(&list(
            &t,
            "/Users",
            &[("sortBy", "title"), ("sortOrder", order), ("count", "100")],
        )
        .await);
        let mut paged = Vec::new();
        for start in ["1", "3", "5", "7"] {
            let r = list(
                &t,
                "/Users",
                &[
                    ("sortBy", "title"),
                    ("sortOrder", order),
                    ("startIndex", start),
                    ("count", "2"),
                ],
            )
            .await;
            paged.extend(ids(&r));
        }
        assert_eq!(paged, full, "{order}: pages disagree with the full list");
    }
    assert_eq!(everyone.len(), 7);
}

async fn invalid_sort_parameters_are_rejected(app: TestApp) {
    let t = app.tenant().await;
    t.user("x", json!({})).await;
    t.group("g", &[]).await;
    for q in [
        [("sortBy", "userName"), ("sortOrder", "sideways")],
        [("sortBy", "userName"), ("sortOrder", "asc")],
        [("sortBy", "nosuch"), ("sortOrder", "ascending")],
        [("sortBy", "name.nosuch"), ("sortOrder", "ascending")],
        [("sortBy", "emails[type"), ("sortOrder", "ascending")],
    ] {
        let r = t.send(t.req(Method::GET, "/Users").query(&q)).await;
        r.assert_error(400, Some("invalidValue"));
        let r = t
            .post(
                "/Users/.search",
                &json!({"schemas": [SEARCH_REQUEST], "sortBy": q[0].1, "sortOrder": q[1].1}),
            )
            .await;
        r.assert_error(400, Some("invalidValue"));
    }
    let r = t
        .send(
            t.req(Method::GET, "/Groups")
                .query(&[("sortBy", "userName")]),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
}

/// Whether `sortBy` names an attribute does not depend on the data: an empty result, or
/// `count=0`, must not turn the 400 into a 200.
async fn unknown_sort_by_is_rejected_even_when_nothing_matches(app: TestApp) {
    let t = app.tenant().await;
    t.user("x", json!({})).await;
    for q in [
        vec![("sortBy", "nosuch")],
        vec![("sortBy", "nosuch"), ("filter", r#"userName eq "nobody""#)],
        vec![("sortBy", "nosuch"), ("count", "0")],
    ] {
        let r = t.send(t.req(Method::GET, "/Users").query(&q)).await;
        assert_eq!(r.status, 400, "{q:?}: {:?}", r.body);
        r.assert_error(400, Some("invalidValue"));
    }
    // A tenant without groups.
    let r = t
        .send(t.req(Method::GET, "/Groups").query(&[("sortBy", "nosuch")]))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    r.assert_error(400, Some("invalidValue"));
}

/// A user with something in every part the projection tests touch.
async fn full_user(t: &Tenant, name: &str) -> String {
    t.user(
        name,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "displayName": "Full User",
            "title": "Eng",
            "name": {"givenName": "Full", "familyName": "User"},
            "emails": [{"value": "full@x.com", "type": "work", "primary": true},
                       {"value": "home@x.com", "type": "home"}],
            ENTERPRISE: {"employeeNumber": "42", "department": "R&D",
                         "manager": {"value": "boss-id"}}
        }),
    )
    .await
}

async fn attributes_select_on_get_by_id(app: TestApp) {
    let t = app.tenant().await;
    let id = full_user(&t, "full").await;
    let get = |q: &'static str| {
        let t = t.clone();
        let id = id.clone();
        async move {
            let r = t.get(&format!("/Users/{id}?{q}")).await;
            assert_eq!(r.status, 200, "{q}: {:?}", r.body);
            r.body
        }
    };
    let b = get("attributes=userName").await;
    assert_eq!(keys(&b), set(&["schemas", "id", "userName"]));
    assert_eq!(b["id"], json!(id));
    assert_eq!(b["userName"], "full");
    let b = get("attributes=USERNAME").await;
    assert_eq!(keys(&b), set(&["schemas", "id", "userName"]));
    let b = get("attributes=name.givenName,emails.value").await;
    assert_eq!(keys(&b), set(&["schemas", "id", "name", "emails"]));
    assert_eq!(b["name"], json!({"givenName": "Full"}));
    assert_eq!(
        b["emails"],
        json!([{"value": "full@x.com"}, {"value": "home@x.com"}])
    );
    let b = get("attributes=urn:ietf:params:scim:schemas:core:2.0:User:userName").await;
    assert_eq!(keys(&b), set(&["schemas", "id", "userName"]));
    let b = get("attributes=name,meta.version").await;
    assert_eq!(keys(&b), set(&["schemas", "id", "name", "meta"]));
    assert_eq!(
        b["name"],
        json!({"givenName": "Full", "familyName": "User"})
    );
    assert_eq!(keys(&b["meta"]), set(&["version"]));
    // `id` is returned even when only other attributes are asked for; the password never.
    let b = get("attributes=password,title").await;
    assert_eq!(keys(&b), set(&["schemas", "id", "title"]));
}

async fn excluded_attributes_on_get_by_id(app: TestApp) {
    let t = app.tenant().await;
    let id = full_user(&t, "full").await;
    let r = t
        .get(&format!("/Users/{id}?excludedAttributes=emails,meta"))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("emails").is_none() && r.body.get("meta").is_none());
    assert_eq!(r.body["id"], json!(id));
    assert_eq!(r.body["userName"], "full");
    assert_eq!(r.body["title"], "Eng");
    // returned=always attributes cannot be excluded.
    let r = t
        .get(&format!("/Users/{id}?excludedAttributes=id,schemas,title"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], json!(id));
    assert!(r.body["schemas"].is_array());
    assert!(r.body.get("title").is_none());
    let r = t
        .get(&format!(
            "/Users/{id}?excludedAttributes=name.familyName,emails.type"
        ))
        .await;
    assert_eq!(r.body["name"], json!({"givenName": "Full"}));
    assert_eq!(
        r.body["emails"],
        json!([{"value": "full@x.com", "primary": true}, {"value": "home@x.com"}])
    );
}

async fn extension_attributes_project_by_urn(app: TestApp) {
    let t = app.tenant().await;
    let id = full_user(&t, "full").await;
    let get = |q: String| {
        let t = t.clone();
        let id = id.clone();
        async move {
            let r = t.get(&format!("/Users/{id}?{q}")).await;
            assert_eq!(r.status, 200, "{q}: {:?}", r.body);
            r.body
        }
    };
    let b = get(format!("attributes={ENTERPRISE}:employeeNumber")).await;
    assert_eq!(keys(&b), set(&["schemas", "id", ENTERPRISE]));
    assert_eq!(b[ENTERPRISE], json!({"employeeNumber": "42"}));
    let b = get(format!("attributes=userName,{ENTERPRISE}:manager.value")).await;
    assert_eq!(keys(&b), set(&["schemas", "id", "userName", ENTERPRISE]));
    assert_eq!(b[ENTERPRISE], json!({"manager": {"value": "boss-id"}}));
    // A whole extension by its URN.
    let b = get(format!("attributes={ENTERPRISE}")).await;
    assert_eq!(keys(&b), set(&["schemas", "id", ENTERPRISE]));
    assert_eq!(
        b[ENTERPRISE],
        json!({"employeeNumber": "42", "department": "R&D", "manager": {"value": "boss-id"}})
    );
    let b = get(format!("excludedAttributes={ENTERPRISE}")).await;
    assert!(b.get(ENTERPRISE).is_none(), "{b}");
    assert_eq!(b["userName"], "full");
    let b = get(format!("excludedAttributes={ENTERPRISE}:department")).await;
    assert_eq!(
        b[ENTERPRISE],
        json!({"employeeNumber": "42", "manager": {"value": "boss-id"}})
    );
    // The URN is matched case-insensitively.
    let b = get(format!(
        "attributes={}:employeeNumber",
        ENTERPRISE.to_ascii_lowercase()
    ))
    .await;
    assert_eq!(b[ENTERPRISE], json!({"employeeNumber": "42"}));
}

async fn projections_apply_to_lists_and_search(app: TestApp) {
    let t = app.tenant().await;
    full_user(&t, "full1").await;
    full_user(&t, "full2").await;
    let check_all = |r: &Resp, want: &[&str]| {
        let resources = r.body["Resources"].as_array().expect("Resources");
        assert_eq!(resources.len(), 2, "{:?}", r.body);
        for u in resources {
            assert_eq!(keys(u), set(want), "{u}");
        }
    };
    let r = list(&t, "/Users", &[("attributes", "userName")]).await;
    check_all(&r, &["schemas", "id", "userName"]);
    let r = list(&t, "/Users", &[("excludedAttributes", "emails,meta")]).await;
    check_all(
        &r,
        &[
            "schemas",
            "id",
            "userName",
            "displayName",
            "title",
            "name",
            ENTERPRISE,
        ],
    );
    let r = t
        .post(
            "/Users/.search",
            &json!({"schemas": [SEARCH_REQUEST], "attributes": ["userName", "title"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    check_all(&r, &["schemas", "id", "userName", "title"]);
    let r = t
        .post(
            "/Users/.search",
            &json!({"schemas": [SEARCH_REQUEST],
                    "excludedAttributes": ["emails", "meta", "name", ENTERPRISE]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    check_all(&r, &["schemas", "id", "userName", "displayName", "title"]);
    // A comma-separated string in the body works as well.
    let r = t
        .post(
            "/Users/.search",
            &json!({"schemas": [SEARCH_REQUEST], "attributes": "userName,title",
                    "filter": "userName eq \"full1\""}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(
        keys(&r.body["Resources"][0]),
        set(&["schemas", "id", "userName", "title"])
    );
}

async fn projections_apply_to_write_responses(app: TestApp) {
    let t = app.tenant().await;
    let r = t
        .post(
            "/Users?attributes=userName",
            &json!({"userName": "w", "title": "Eng", "emails": [{"value": "w@x.com"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(keys(&r.body), set(&["schemas", "id", "userName"]));
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(r
        .header("location")
        .unwrap()
        .ends_with(&format!("/Users/{id}")));
    // The projection only trims the response: everything was stored.
    let full = t.get(&format!("/Users/{id}")).await;
    assert_eq!(full.body["title"], "Eng");
    assert_eq!(full.body["emails"][0]["value"], "w@x.com");

    let r = t
        .put(
            &format!("/Users/{id}?excludedAttributes=emails,name,meta"),
            &json!({"userName": "w", "title": "Lead", "name": {"givenName": "W"},
                    "emails": [{"value": "w@x.com"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(keys(&r.body), set(&["schemas", "id", "userName", "title"]));
    assert_eq!(r.body["title"], "Lead");

    let r = t
        .patch(
            &format!("/Users/{id}?attributes=displayName"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "displayName", "value": "Dub"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"schemas": full.body["schemas"], "id": id, "displayName": "Dub"})
    );

    // Groups: create and PATCH with a projection answer with the projected group.
    let r = t
        .post(
            "/Groups?excludedAttributes=members",
            &json!({"displayName": "G", "members": [{"value": id}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.body.get("members").is_none(), "{:?}", r.body);
    assert_eq!(r.body["displayName"], "G");
    let gid = r.body["id"].as_str().unwrap().to_owned();
    let r = t
        .patch(
            &format!("/Groups/{gid}?attributes=displayName"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "displayName", "value": "G2"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(keys(&r.body), set(&["schemas", "id", "displayName"]));
    assert_eq!(r.body["displayName"], "G2");
    let r = t
        .put(
            &format!("/Groups/{gid}?attributes=members.value"),
            &json!({"displayName": "G2", "members": [{"value": id}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["members"], json!([{"value": id}]));
}

async fn attributes_and_excluded_attributes_together_are_rejected(app: TestApp) {
    let t = app.tenant().await;
    let id = full_user(&t, "both").await;
    let both = "attributes=userName&excludedAttributes=emails";
    let assert_400 = |r: Resp, what: &str| {
        assert_eq!(r.status, 400, "{what}: {:?}", r.body);
        assert_eq!(
            r.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
            "{what}"
        );
        assert_eq!(r.body["status"], "400", "{what}");
    };
    assert_400(t.get(&format!("/Users/{id}?{both}")).await, "GET by id");
    assert_400(t.get(&format!("/Users?{both}")).await, "GET list");
    assert_400(
        t.post(
            "/Users/.search",
            &json!({"schemas": [SEARCH_REQUEST], "attributes": ["userName"],
                    "excludedAttributes": ["emails"]}),
        )
        .await,
        ".search",
    );
    assert_400(
        t.post(&format!("/Users?{both}"), &json!({"userName": "never"}))
            .await,
        "POST",
    );
    assert_400(
        t.patch_ops(
            &format!("/Users/{id}?{both}"),
            json!([{"op": "replace", "path": "title", "value": "never"}]),
        )
        .await,
        "PATCH",
    );
    assert_400(
        t.put(
            &format!("/Users/{id}?{both}"),
            &json!({"userName": "both", "title": "never"}),
        )
        .await,
        "PUT",
    );
    // The rejected writes changed nothing.
    assert_eq!(
        t.user_ids(r#"userName eq "never""#).await,
        Vec::<String>::new()
    );
    let r = t.get(&format!("/Users/{id}")).await;
    assert_eq!(r.body["title"], "Eng");
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
}

async fn group_members_render_and_can_be_excluded(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("u1", json!({})).await;
    let u2 = t.user("u2", json!({})).await;
    let sub = t.group("Sub", &[]).await;
    let team = t.group("Team", &[&u1, &u2, &sub]).await;
    let r = t.get(&format!("/Groups/{team}")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let members = r.body["members"].as_array().expect("members");
    let mut seen = BTreeSet::new();
    for m in members {
        let value = m["value"].as_str().expect("value");
        let (kind, endpoint) = if value == sub {
            ("Group", "Groups")
        } else {
            ("User", "Users")
        };
        assert_eq!(m["type"], kind, "{m}");
        assert_eq!(m["$ref"], format!("{}/{endpoint}/{value}", t.scim), "{m}");
        seen.insert(value.to_owned());
    }
    assert_eq!(
        seen,
        [u1.clone(), u2.clone(), sub.clone()].into_iter().collect()
    );

    let r = t
        .get(&format!("/Groups/{team}?excludedAttributes=members"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("members").is_none(), "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Team");
    assert_eq!(r.body["id"], json!(team));

    let r = list(&t, "/Groups", &[("excludedAttributes", "members")]).await;
    assert_eq!(r.body["totalResults"], 2);
    for g in r.body["Resources"].as_array().unwrap() {
        assert!(g.get("members").is_none(), "{g}");
    }
    let r = list(&t, "/Groups", &[("filter", r#"displayName eq "Team""#)]).await;
    assert_eq!(
        r.body["Resources"][0]["members"].as_array().map(Vec::len),
        Some(3)
    );
    let r = list(&t, "/Groups", &[("attributes", "displayName")]).await;
    for g in r.body["Resources"].as_array().unwrap() {
        assert_eq!(keys(g), set(&["schemas", "id", "displayName"]), "{g}");
    }
    let r = t
        .get(&format!("/Groups/{team}?attributes=members.value"))
        .await;
    let mut values: Vec<Value> = r.body["members"].as_array().unwrap().clone();
    values.sort_by_key(|m| m["value"].as_str().unwrap().to_owned());
    let mut want = [u1.as_str(), u2.as_str(), sub.as_str()];
    want.sort_unstable();
    let want: Vec<Value> = want.iter().map(|v| json!({"value": v})).collect();
    assert_eq!(values, want);
}

async fn user_groups_are_derived_and_read_only(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("u1", json!({})).await;
    let loner = t.user("loner", json!({})).await;
    let team = t.group("Team", &[&u1]).await;
    let other = t.group("Other", &[&u1]).await;
    let groups_of = |body: &Value| -> BTreeSet<String> {
        body["groups"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|g| g["value"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let r = t.get(&format!("/Users/{u1}")).await;
    assert_eq!(
        groups_of(&r.body),
        [team.clone(), other.clone()].into_iter().collect()
    );
    for g in r.body["groups"].as_array().unwrap() {
        let gid = g["value"].as_str().unwrap();
        assert_eq!(g["$ref"], format!("{}/Groups/{gid}", t.scim));
        let name = if gid == team { "Team" } else { "Other" };
        assert_eq!(g["display"], name);
    }
    let r = t.get(&format!("/Users/{loner}")).await;
    assert!(groups_of(&r.body).is_empty(), "{:?}", r.body);
    // Lists show it too, and it can be projected.
    let r = list(&t, "/Users", &[("filter", r#"userName eq "u1""#)]).await;
    assert_eq!(groups_of(&r.body["Resources"][0]).len(), 2);
    let r = t.get(&format!("/Users/{u1}?attributes=groups")).await;
    assert_eq!(keys(&r.body), set(&["schemas", "id", "groups"]));
    let r = t
        .get(&format!("/Users/{u1}?excludedAttributes=groups"))
        .await;
    assert!(r.body.get("groups").is_none());
    // readOnly: a PUT that sends groups does not change them.
    let r = t
        .put(
            &format!("/Users/{u1}"),
            &json!({"userName": "u1", "groups": [{"value": team}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(groups_of(&r.body).len(), 2, "{:?}", r.body);
    // Derived: leaving a group shows at once.
    let r = t
        .patch_ops(
            &format!("/Groups/{other}"),
            json!([{"op": "remove", "path": format!("members[value eq \"{u1}\"]")}]),
        )
        .await;
    assert!(r.status == 204 || r.status == 200, "{:?}", r.body);
    let r = t.get(&format!("/Users/{u1}")).await;
    assert_eq!(groups_of(&r.body), [team.clone()].into_iter().collect());
    t.delete(&format!("/Groups/{team}")).await;
    let r = t.get(&format!("/Users/{u1}")).await;
    assert!(groups_of(&r.body).is_empty(), "{:?}", r.body);
}

async fn search_request_gives_the_same_result_as_get(app: TestApp) {
    let t = app.tenant().await;
    for (name, title) in [
        ("sa", "Eng"),
        ("sb", "Eng"),
        ("sc", "Sales"),
        ("sd", "Eng"),
        ("se", "Eng"),
    ] {
        t.user(name, json!({"title": title})).await;
    }
    let get = list(
        &t,
        "/Users",
        &[
            ("filter", r#"title eq "Eng""#),
            ("startIndex", "2"),
            ("count", "2"),
            ("sortBy", "userName"),
            ("sortOrder", "descending"),
            ("attributes", "userName,title"),
        ],
    )
    .await;
    assert_eq!(get.body["totalResults"], 4);
    assert_eq!(user_names(&get), ["sd", "sb"]);
    let post = t
        .post(
            "/Users/.search",
            &json!({
                "schemas": [SEARCH_REQUEST],
                "filter": "title eq \"Eng\"",
                "startIndex": 2,
                "count": 2,
                "sortBy": "userName",
                "sortOrder": "descending",
                "attributes": ["userName", "title"],
            }),
        )
        .await;
    assert_eq!(post.status, 200, "{:?}", post.body);
    assert_eq!(
        post.header("content-type").as_deref(),
        Some("application/scim+json")
    );
    assert_eq!(post.body, get.body);
    // Without paging parameters, the defaults.
    let post = t
        .post(
            "/Users/.search",
            &json!({"schemas": [SEARCH_REQUEST], "filter": "title eq \"Sales\""}),
        )
        .await;
    assert_eq!(post.body["totalResults"], 1);
    assert_eq!(post.body["startIndex"], 1);
    assert_eq!(user_names(&post), ["sc"]);
    // Groups have .search too.
    let g = t.group("SearchMe", &[]).await;
    let post = t
        .post(
            "/Groups/.search",
            &json!({"schemas": [SEARCH_REQUEST], "filter": "displayName eq \"searchme\""}),
        )
        .await;
    assert_eq!(post.status, 200, "{:?}", post.body);
    assert_eq!(ids(&post), vec![g]);
}

async fn root_lists_users_then_groups_paged_across_both(app: TestApp) {
    let t = app.tenant().await;
    let users = make_users(&t, "r", 3).await;
    let g1 = t.group("G1", &[&users[0]]).await;
    let g2 = t.group("G2", &[]).await;
    let everything: Vec<String> = users
        .iter()
        .cloned()
        .chain([g1.clone(), g2.clone()])
        .collect();
    let r = list(&t, "/", &[]).await;
    assert_eq!(r.body["totalResults"], 5);
    assert_eq!(ids(&r), everything);
    let types: Vec<&Value> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["meta"]["resourceType"])
        .collect();
    assert_eq!(types, ["User", "User", "User", "Group", "Group"]);
    let r = list(&t, "", &[]).await;
    assert_eq!(ids(&r), everything);
    for (start, count, want) in [
        ("3", "2", &everything[2..4]),
        ("4", "10", &everything[3..5]),
        ("1", "3", &everything[0..3]),
        ("5", "1", &everything[4..5]),
        ("6", "5", &everything[5..5]),
    ] {
        let r = list(&t, "/", &[("startIndex", start), ("count", count)]).await;
        assert_eq!(ids(&r), want.to_vec(), "GET / start {start} count {count}");
        assert_eq!(r.body["totalResults"], 5);
        assert_eq!(r.body["itemsPerPage"], json!(want.len()));
        assert_eq!(r.body["startIndex"], json!(start.parse::<i64>().unwrap()));
        let body = json!({"schemas": [SEARCH_REQUEST],
                          "startIndex": start.parse::<i64>().unwrap(),
                          "count": count.parse::<i64>().unwrap()});
        let p = t.post("/.search", &body).await;
        assert_eq!(p.status, 200, "{:?}", p.body);
        assert_eq!(ids(&p), want.to_vec(), "POST /.search {body}");
        assert_eq!(p.body["totalResults"], 5);
    }
    let r = list(&t, "/", &[("count", "0")]).await;
    assert_eq!(r.body["totalResults"], 5);
    assert_eq!(ids(&r), Vec::<String>::new());
    // Projections apply to both types.
    let r = list(&t, "/", &[("attributes", "meta.resourceType")]).await;
    for x in r.body["Resources"].as_array().unwrap() {
        assert_eq!(keys(x), set(&["schemas", "id", "meta"]), "{x}");
    }
}

async fn root_search_with_a_filter_only_one_type_understands(app: TestApp) {
    let t = app.tenant().await;
    let users = make_users(&t, "q", 3).await;
    let team = t.group("Team", &[&users[1]]).await;
    t.group("Other", &[]).await;
    let search = |filter: &str| {
        let t = t.clone();
        let body = json!({"schemas": [SEARCH_REQUEST], "filter": filter});
        async move {
            let r = t.post("/.search", &body).await;
            assert_eq!(r.status, 200, "{body}: {:?}", r.body);
            (ids(&r), r.body["totalResults"].clone())
        }
    };
    // Only Users have userName.
    assert_eq!(
        search(r#"userName eq "q1""#).await,
        (vec![users[1].clone()], json!(1))
    );
    let r = list(&t, "/", &[("filter", r#"userName eq "q1""#)]).await;
    assert_eq!(ids(&r), vec![users[1].clone()]);
    // Only Groups have members.
    assert_eq!(
        search(&format!(r#"members eq "{}""#, users[1])).await,
        (vec![team.clone()], json!(1))
    );
    // Both have displayName and meta.
    assert_eq!(
        search(r#"displayName eq "team""#).await,
        (vec![team.clone()], json!(1))
    );
    assert_eq!(search(r#"meta.resourceType eq "Group""#).await.1, json!(2));
    assert_eq!(search(r#"meta.resourceType eq "User""#).await.1, json!(3));
    // A filter neither type understands is still an error.
    let r = t
        .post(
            "/.search",
            &json!({"schemas": [SEARCH_REQUEST], "filter": "nosuch eq \"x\""}),
        )
        .await;
    r.assert_error(400, Some("invalidFilter"));
    let r = t
        .post(
            "/.search",
            &json!({"schemas": [SEARCH_REQUEST], "filter": "userName eq"}),
        )
        .await;
    r.assert_error(400, Some("invalidFilter"));
}

/// At the root, `sortBy` may name an attribute only Users have: Users sort by it and Groups
/// (which lack it) follow, as resources without the value sort last. Whether the request works
/// must not depend on whether the page reaches the Groups.
async fn root_search_sorts_by_an_attribute_only_users_have(app: TestApp) {
    let t = app.tenant().await;
    for name in ["rb", "ra", "rc"] {
        t.user(name, json!({})).await;
    }
    let g = t.group("G", &[]).await;
    for count in [2, 10] {
        let r = t
            .post(
                "/.search",
                &json!({"schemas": [SEARCH_REQUEST], "sortBy": "userName", "count": count}),
            )
            .await;
        assert_eq!(r.status, 200, "count {count}: {:?}", r.body);
        assert_eq!(r.body["totalResults"], 4);
        let names: Vec<&Value> = r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| &x["userName"])
            .collect();
        let want = [json!("ra"), json!("rb"), json!("rc"), Value::Null];
        assert_eq!(names, want.iter().take(count).collect::<Vec<_>>());
        if count == 10 {
            assert_eq!(r.body["Resources"][3]["id"], json!(g));
        }
    }
}
