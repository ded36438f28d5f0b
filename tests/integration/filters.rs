//! Filters: the whole RFC 7644 §3.4.2.2 grammar, compiled to SQL and run in the database, with
//! the caseExact rules, value-path correlation, the forms Entra and Okta send, and the errors.

use crate::util::{Backend, Tenant, TestApp};
use muster::db::Dialect;
use muster::scim::filter::parse_filter;
use muster::scim::schema::Kind;
use muster::scim::store::{page_sql, ListQuery};
use reqwest::Method;
use serde_json::{json, Value};

crate::on_both_backends!(
    string_operators_compare_in_the_database,
    datetime_operators_compare_chronologically,
    booleans_compare_with_eq_and_reject_ordering,
    case_exact_rules_follow_the_schema,
    logical_operators_group_and_bind_and_before_or,
    keywords_operators_and_attribute_names_are_case_insensitive,
    multi_valued_attributes_match_any_element,
    value_path_correlates_sub_attributes_of_one_element,
    rfc_7644_example_filters,
    enterprise_extension_attributes_filter_by_urn_path,
    entra_manager_query_without_urn,
    group_filters_on_display_name_and_members,
    user_filters_on_group_membership,
    entra_unquoted_values_and_plus_encoded_spaces,
    unquoted_numeric_looking_values_compare_as_written,
    like_metacharacters_quotes_and_backslashes_are_literal,
    no_match_is_an_empty_list_not_404,
    bad_filters_are_invalid_filter_errors,
    filters_at_the_size_limits_still_run,
    equality_filters_use_the_attrs_index,
    entra_value_path_lookup_is_driven_by_the_value,
);

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Runs `filter` on `endpoint` and asserts it returns exactly the resources `want` (ids, in any
/// order), with a consistent `totalResults`.
async fn check(t: &Tenant, endpoint: &str, filter: &str, want: &[&str]) {
    let r = t
        .send(
            t.req(Method::GET, endpoint)
                .query(&[("filter", filter), ("count", "1000")]),
        )
        .await;
    assert_eq!(r.status, 200, "filter {filter}: {:?}", r.body);
    let resources = r.body["Resources"].as_array().expect("Resources");
    assert_eq!(
        r.body["totalResults"].as_u64(),
        Some(resources.len() as u64),
        "filter {filter}: totalResults"
    );
    let mut got: Vec<&str> = resources
        .iter()
        .map(|u| u["id"].as_str().expect("id"))
        .collect();
    let names: Vec<&Value> = resources
        .iter()
        .map(|u| {
            if u["userName"].is_null() {
                &u["displayName"]
            } else {
                &u["userName"]
            }
        })
        .collect();
    got.sort_unstable();
    let mut want = want.to_vec();
    want.sort_unstable();
    assert_eq!(
        got, want,
        "filter {filter} on {endpoint} returned {names:?}"
    );
}

async fn users(t: &Tenant, filter: &str, want: &[&str]) {
    check(t, "/Users", filter, want).await;
}

async fn groups(t: &Tenant, filter: &str, want: &[&str]) {
    check(t, "/Groups", filter, want).await;
}

/// Asserts that `filter` is a 400 `invalidFilter` on `endpoint`, by GET and by `.search`.
async fn rejects(t: &Tenant, endpoint: &str, filter: &str) {
    let r = t
        .send(t.req(Method::GET, endpoint).query(&[("filter", filter)]))
        .await;
    assert_eq!(
        r.status, 400,
        "filter {filter:?} was accepted: {:?}",
        r.body
    );
    r.assert_error(400, Some("invalidFilter"));
    let r = t
        .post(
            &format!("{endpoint}/.search"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": filter}),
        )
        .await;
    assert_eq!(r.status, 400, "filter {filter:?} (.search): {:?}", r.body);
    r.assert_error(400, Some("invalidFilter"));
}

fn email(kind: &str, value: &str) -> Value {
    json!({"type": kind, "value": value})
}

async fn string_operators_compare_in_the_database(app: TestApp) {
    let t = app.tenant().await;
    let alpha = t.user("alpha", json!({"title": "Engineer"})).await;
    let bravo = t.user("Bravo", json!({"title": "Manager"})).await;
    let charlie = t.user("charlie", json!({"title": "Engineer II"})).await;
    let delta = t.user("delta", json!({})).await;
    let (a, b, c, d) = (
        alpha.as_str(),
        bravo.as_str(),
        charlie.as_str(),
        delta.as_str(),
    );
    users(&t, r#"userName eq "bravo""#, &[b]).await;
    users(&t, r#"userName ne "bravo""#, &[a, c, d]).await;
    users(&t, r#"userName co "lph""#, &[a]).await;
    users(&t, r#"userName co "A""#, &[a, b, c, d]).await;
    users(&t, r#"userName sw "ch""#, &[c]).await;
    users(&t, r#"userName ew "TA""#, &[d]).await;
    // Strings order lexicographically, case-insensitively for caseExact=false attributes.
    users(&t, r#"userName gt "bravo""#, &[c, d]).await;
    users(&t, r#"userName ge "BRAVO""#, &[b, c, d]).await;
    users(&t, r#"userName lt "Bravo""#, &[a]).await;
    users(&t, r#"userName le "bravo""#, &[a, b]).await;
    users(&t, r#"userName gt "b""#, &[b, c, d]).await;
    users(&t, "title pr", &[a, b, c]).await;
    users(&t, "not (title pr)", &[d]).await;
    users(&t, r#"title eq "engineer""#, &[a]).await;
    users(&t, r#"title sw "Engineer""#, &[a, c]).await;
    users(&t, r#"title ew "ii""#, &[c]).await;
    users(&t, r#"id eq "{b}""#.replace("{b}", b).as_str(), &[b]).await;
    users(&t, &format!(r#"id ne "{b}""#), &[a, c, d]).await;
    users(&t, "id pr", &[a, b, c, d]).await;
    users(&t, r#"userName eq "alpha ""#, &[]).await;
    // `eq null` is "not present", `ne null` is "present".
    users(&t, "title eq null", &[d]).await;
    users(&t, "title ne null", &[a, b, c]).await;
}

/// Creates a user and returns its id and `meta.created`.
async fn user_with_time(t: &Tenant, name: &str) -> (String, String) {
    let r = t.post("/Users", &json!({"userName": name})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // Keep creation times strictly apart whatever the clock resolution.
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["meta"]["created"].as_str().unwrap().to_owned(),
    )
}

async fn datetime_operators_compare_chronologically(app: TestApp) {
    let t = app.tenant().await;
    let (u1, _) = user_with_time(&t, "first").await;
    let (u2, c2) = user_with_time(&t, "second").await;
    let (u3, c3) = user_with_time(&t, "third").await;
    let (u1, u2, u3) = (u1.as_str(), u2.as_str(), u3.as_str());
    users(&t, &format!(r#"meta.created gt "{c2}""#), &[u3]).await;
    users(&t, &format!(r#"meta.created ge "{c2}""#), &[u2, u3]).await;
    users(&t, &format!(r#"meta.created lt "{c2}""#), &[u1]).await;
    users(&t, &format!(r#"meta.created le "{c2}""#), &[u1, u2]).await;
    users(&t, &format!(r#"meta.created eq "{c2}""#), &[u2]).await;
    // The same instant written with another offset is the same time.
    let t2 = time::OffsetDateTime::parse(&c2, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .to_offset(time::macros::offset!(+2));
    let shifted = t2
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!(shifted.ends_with("+02:00"), "{shifted}");
    users(&t, &format!(r#"meta.created eq "{shifted}""#), &[u2]).await;
    users(&t, &format!(r#"meta.created lt "{shifted}""#), &[u1]).await;
    // The RFC's example: everything was modified after 2011.
    users(
        &t,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        &[u1, u2, u3],
    )
    .await;
    users(&t, r#"meta.created lt "2011-05-13T04:42:34Z""#, &[]).await;
    // A change moves lastModified but not created.
    let r = t
        .patch_ops(
            &format!("/Users/{u1}"),
            json!([{"op": "replace", "path": "title", "value": "Changed"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let modified = r.body["meta"]["lastModified"].as_str().unwrap().to_owned();
    assert!(modified > c3, "{modified} after {c3}");
    users(&t, &format!(r#"meta.lastModified gt "{c3}""#), &[u1]).await;
    users(&t, &format!(r#"meta.lastModified ge "{modified}""#), &[u1]).await;
    users(&t, &format!(r#"meta.created gt "{c3}""#), &[]).await;
    users(&t, "meta.lastModified pr", &[u1, u2, u3]).await;
    rejects(&t, "/Users", r#"meta.created gt "yesterday""#).await;
    rejects(&t, "/Users", r#"meta.created co "2026""#).await;
    rejects(&t, "/Users", "meta.lastModified gt 5").await;
}

async fn booleans_compare_with_eq_and_reject_ordering(app: TestApp) {
    let t = app.tenant().await;
    let on = t
        .user(
            "on",
            json!({"active": true, "emails": [{"value": "on@x.com", "primary": true}]}),
        )
        .await;
    let off = t
        .user(
            "off",
            json!({"active": false, "emails": [{"value": "off@x.com", "primary": false}]}),
        )
        .await;
    let (on, off) = (on.as_str(), off.as_str());
    users(&t, "active eq false", &[off]).await;
    users(&t, "active eq true", &[on]).await;
    users(&t, "active eq False", &[off]).await;
    users(&t, r#"active eq "false""#, &[off]).await;
    users(&t, "active ne true", &[off]).await;
    users(&t, "emails.primary eq true", &[on]).await;
    users(&t, "emails[primary eq true]", &[on]).await;
    users(&t, "active pr", &[on, off]).await;
    for f in [
        "active gt false",
        "active ge true",
        "active lt true",
        "active le false",
        "active co true",
        "active sw \"t\"",
        "active eq 1",
        "active eq \"yes\"",
        "emails.primary gt false",
    ] {
        rejects(&t, "/Users", f).await;
    }
}

async fn case_exact_rules_follow_the_schema(app: TestApp) {
    let t = app.tenant().await;
    let ann = t
        .user(
            "ann@x.com",
            json!({"externalId": "ExtAnn", "displayName": "Ann Smith",
                   "emails": [email("work", "Ann.Mail@Example.COM")]}),
        )
        .await;
    let asa = t
        .user(
            "åsa",
            json!({"externalId": "extann", "displayName": "Ünal"}),
        )
        .await;
    let (ann, asa) = (ann.as_str(), asa.as_str());
    // caseExact=false: userName, emails.value, displayName.
    users(&t, r#"userName eq "ANN@X.COM""#, &[ann]).await;
    users(&t, r#"userName co "X.CO""#, &[ann]).await;
    users(&t, r#"userName eq "ÅSA""#, &[asa]).await;
    users(&t, r#"emails.value eq "ann.mail@example.com""#, &[ann]).await;
    users(&t, r#"emails eq "ANN.MAIL@EXAMPLE.COM""#, &[ann]).await;
    users(&t, r#"displayName eq "ANN SMITH""#, &[ann]).await;
    users(&t, r#"displayName eq "ünal""#, &[asa]).await;
    // caseExact=true: externalId and id.
    users(&t, r#"externalId eq "ExtAnn""#, &[ann]).await;
    users(&t, r#"externalId eq "extann""#, &[asa]).await;
    users(&t, r#"externalId eq "EXTANN""#, &[]).await;
    users(&t, r#"externalId sw "Ext""#, &[ann]).await;
    users(&t, r#"externalId co "tAn""#, &[ann]).await;
    users(&t, r#"externalId co "TAN""#, &[]).await;
    users(&t, &format!(r#"id eq "{ann}""#), &[ann]).await;
    users(&t, &format!(r#"id eq "{}""#, ann.to_ascii_uppercase()), &[]).await;
}

async fn logical_operators_group_and_bind_and_before_or(app: TestApp) {
    let t = app.tenant().await;
    let a = t
        .user("a", json!({"userType": "Employee", "title": "Eng"}))
        .await;
    let b = t
        .user("b", json!({"userType": "Contractor", "title": "Eng"}))
        .await;
    let c = t
        .user("c", json!({"userType": "Employee", "title": "Sales"}))
        .await;
    let d = t.user("d", json!({})).await;
    let (a, b, c, d) = (a.as_str(), b.as_str(), c.as_str(), d.as_str());
    users(&t, r#"userType eq "Employee" and title eq "Eng""#, &[a]).await;
    users(
        &t,
        r#"userType eq "Contractor" or title eq "Sales""#,
        &[b, c],
    )
    .await;
    // `and` binds tighter than `or`: Sales or (Contractor and Eng).
    users(
        &t,
        r#"title eq "Sales" or userType eq "Contractor" and title eq "Eng""#,
        &[b, c],
    )
    .await;
    users(
        &t,
        r#"userType eq "Contractor" and title eq "Eng" or title eq "Sales""#,
        &[b, c],
    )
    .await;
    // Parentheses override it.
    users(
        &t,
        r#"(title eq "Sales" or userType eq "Contractor") and title eq "Eng""#,
        &[b],
    )
    .await;
    users(
        &t,
        r#"userType eq "Employee" and (title eq "Sales" or title eq "Eng")"#,
        &[a, c],
    )
    .await;
    users(&t, r#"not (userType eq "Employee")"#, &[b, d]).await;
    users(
        &t,
        r#"not (title eq "Eng") and userType eq "Employee""#,
        &[c],
    )
    .await;
    users(&t, r#"not (title eq "Eng" or title eq "Sales")"#, &[d]).await;
    users(&t, r#"not (not (userName eq "a"))"#, &[a]).await;
    users(&t, r#"((userName eq "a") or ((userName eq "d")))"#, &[a, d]).await;
    users(&t, r#"userName eq "a" and userName eq "b""#, &[]).await;
}

async fn keywords_operators_and_attribute_names_are_case_insensitive(app: TestApp) {
    let t = app.tenant().await;
    let a = t
        .user(
            "mixed@x.com",
            json!({"userType": "Employee", "title": "Eng", "externalId": "M1",
                   "name": {"familyName": "Case"},
                   "emails": [email("work", "mixed@x.com")]}),
        )
        .await;
    t.user("other@x.com", json!({"userType": "Employee"})).await;
    let a = a.as_str();
    users(
        &t,
        r#"userName EQ "MIXED@x.com" AND NOT (title Eq "sales") Or userType EQ "nobody""#,
        &[a],
    )
    .await;
    users(&t, r#"USERNAME eq "mixed@x.com""#, &[a]).await;
    users(&t, r#"Emails.Value Sw "MIXED""#, &[a]).await;
    users(&t, r#"EMAILS[TYPE eq "Work"]"#, &[a]).await;
    users(&t, r#"ExternalID eq "M1""#, &[a]).await;
    users(&t, r#"name.FAMILYNAME eq "case""#, &[a]).await;
    users(&t, "TITLE PR", &[a]).await;
    // The core schema URN may qualify a core attribute.
    users(
        &t,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "mixed@x.com""#,
        &[a],
    )
    .await;
    users(
        &t,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "Case""#,
        &[a],
    )
    .await;
}

async fn multi_valued_attributes_match_any_element(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t
        .user(
            "u1",
            json!({"emails": [email("work", "u1@example.com"), email("home", "u1@example.org")]}),
        )
        .await;
    let u2 = t
        .user("u2", json!({"emails": [email("work", "x2@other.net")]}))
        .await;
    let u3 = t.user("u3", json!({})).await;
    let (u1, u2, u3) = (u1.as_str(), u2.as_str(), u3.as_str());
    // No sub-attribute means `value`.
    users(&t, r#"emails co "@example.org""#, &[u1]).await;
    users(&t, r#"emails eq "x2@other.net""#, &[u2]).await;
    users(&t, r#"emails.value sw "x""#, &[u2]).await;
    users(&t, r#"emails.value ew ".net""#, &[u2]).await;
    users(&t, r#"emails.value co "example""#, &[u1]).await;
    users(&t, r#"emails.type eq "work""#, &[u1, u2]).await;
    users(&t, r#"emails.type eq "home""#, &[u1]).await;
    users(&t, r#"emails.type ne "home""#, &[u2, u3]).await;
    users(&t, "emails pr", &[u1, u2]).await;
    users(&t, "emails.value pr", &[u1, u2]).await;
    users(&t, "not (emails pr)", &[u3]).await;
    users(&t, "phoneNumbers pr", &[]).await;
}

async fn value_path_correlates_sub_attributes_of_one_element(app: TestApp) {
    let t = app.tenant().await;
    // Work email at example.com.
    let a = t
        .user("a", json!({"emails": [email("work", "a@example.com")]}))
        .await;
    // Work email elsewhere, home email at example.com: must not match the value path.
    let b = t
        .user(
            "b",
            json!({"emails": [email("work", "b@elsewhere.net"), email("home", "b@example.com")]}),
        )
        .await;
    let c = t
        .user("c", json!({"emails": [email("home", "c@example.com")]}))
        .await;
    let d = t.user("d", json!({})).await;
    let (a, b, c, d) = (a.as_str(), b.as_str(), c.as_str(), d.as_str());
    users(
        &t,
        r#"emails[type eq "work" and value co "@example.com"]"#,
        &[a],
    )
    .await;
    // Without the brackets the two tests may hold for different elements.
    users(
        &t,
        r#"emails.type eq "work" and emails.value co "@example.com""#,
        &[a, b],
    )
    .await;
    // Entra's form: the trailing sub-attribute belongs to the same element.
    users(
        &t,
        r#"emails[type eq "work"].value eq "b@elsewhere.net""#,
        &[b],
    )
    .await;
    users(
        &t,
        r#"emails[type eq "work"].value eq "b@example.com""#,
        &[],
    )
    .await;
    users(
        &t,
        r#"emails[type eq "home"].value ew "example.com""#,
        &[b, c],
    )
    .await;
    users(&t, r#"not (emails[type eq "home"])"#, &[a, d]).await;
    users(&t, r#"emails[not (type eq "work")]"#, &[b, c]).await;
    users(&t, r#"emails[type eq "work" or value sw "c@"]"#, &[a, b, c]).await;
    users(
        &t,
        r#"emails[type eq "WORK" and value eq "A@EXAMPLE.COM"]"#,
        &[a],
    )
    .await;
    users(&t, r#"emails[value pr and type eq "home"]"#, &[b, c]).await;
    users(
        &t,
        r#"emails[type eq "work" and value co "@example.com"] or emails[type eq "home" and value sw "c"]"#,
        &[a, c],
    )
    .await;
    users(
        &t,
        r#"emails[type eq "work"] and emails[value co "@example.com"]"#,
        &[a, b],
    )
    .await;
    users(&t, r#"name[givenName eq "x"]"#, &[]).await;
}

async fn rfc_7644_example_filters(app: TestApp) {
    let t = app.tenant().await;
    let e1 = t
        .user(
            "e1",
            json!({"userType": "Employee", "emails": [email("work", "e1@example.com")]}),
        )
        .await;
    let e2 = t
        .user(
            "e2",
            json!({"userType": "Employee", "emails": [email("home", "e2@example.org")]}),
        )
        .await;
    let e3 = t
        .user(
            "e3",
            json!({"userType": "Employee", "title": "Boss",
                   "emails": [email("work", "e3@other.net")]}),
        )
        .await;
    let c1 = t
        .user(
            "c1",
            json!({"userType": "Contractor", "emails": [email("work", "c1@other.net")],
                   "ims": [{"type": "xmpp", "value": "c1@foo.com"}]}),
        )
        .await;
    let c2 = t
        .user(
            "c2",
            json!({"userType": "Contractor", "emails": [email("home", "c2@example.com")],
                   "ims": [{"type": "aim", "value": "c2@foo.com"}],
                   "name": {"familyName": "O'Malley", "givenName": "Pat"}}),
        )
        .await;
    let (e1, e2, e3, c1, c2) = (
        e1.as_str(),
        e2.as_str(),
        e3.as_str(),
        c1.as_str(),
        c2.as_str(),
    );
    users(
        &t,
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        &[e1, e2],
    )
    .await;
    users(
        &t,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        &[c1],
    )
    .await;
    users(
        &t,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        &[e1, c1],
    )
    .await;
    users(&t, "title pr", &[e3]).await;
    users(&t, r#"name.familyName co "O'Malley""#, &[c2]).await;
    users(&t, r#"name.familyName eq "o'malley""#, &[c2]).await;
    users(&t, "name pr", &[c2]).await;
    users(&t, r#"userName sw "J""#, &[]).await;
    users(
        &t,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        &[e1, e2, e3, c1, c2],
    )
    .await;
}

async fn enterprise_extension_attributes_filter_by_urn_path(app: TestApp) {
    let t = app.tenant().await;
    let boss = t
        .user("boss", json!({ENTERPRISE: {"employeeNumber": "1"}}))
        .await;
    let u1 = t
        .user(
            "u1",
            json!({ENTERPRISE: {"employeeNumber": "701984", "department": "R&D",
                                "manager": {"value": boss}}}),
        )
        .await;
    let u2 = t
        .user(
            "u2",
            json!({ENTERPRISE: {"employeeNumber": "701985", "costCenter": "CC-9"}}),
        )
        .await;
    let plain = t.user("plain", json!({})).await;
    let (boss, u1, u2, _plain) = (boss.as_str(), u1.as_str(), u2.as_str(), plain.as_str());
    users(
        &t,
        &format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#),
        &[u1],
    )
    .await;
    users(&t, &format!("{ENTERPRISE}:employeeNumber eq 701984"), &[u1]).await;
    users(
        &t,
        &format!(r#"{ENTERPRISE}:employeeNumber sw "7019""#),
        &[u1, u2],
    )
    .await;
    users(
        &t,
        &format!("{ENTERPRISE}:employeeNumber pr"),
        &[boss, u1, u2],
    )
    .await;
    users(&t, &format!(r#"{ENTERPRISE}:department eq "r&d""#), &[u1]).await;
    users(
        &t,
        &format!(r#"{ENTERPRISE}:manager.value eq "{boss}""#),
        &[u1],
    )
    .await;
    // `manager` without a sub-attribute means `manager.value`.
    users(&t, &format!(r#"{ENTERPRISE}:manager eq "{boss}""#), &[u1]).await;
    users(&t, &format!("{ENTERPRISE}:manager pr"), &[u1]).await;
    users(
        &t,
        &format!(r#"id eq "{u1}" and {ENTERPRISE}:manager.value eq "{boss}""#),
        &[u1],
    )
    .await;
    users(
        &t,
        &format!(r#"id eq "{u2}" and {ENTERPRISE}:manager.value eq "{boss}""#),
        &[],
    )
    .await;
    // The URN is case-insensitive too.
    users(
        &t,
        &format!(
            r#"{}:EmployeeNumber eq "701985""#,
            ENTERPRISE.to_ascii_lowercase()
        ),
        &[u2],
    )
    .await;
    rejects(&t, "/Users", &format!(r#"{ENTERPRISE}:nosuch eq "x""#)).await;
    rejects(
        &t,
        "/Users",
        r#"urn:example:unknown:1.0:User:employeeNumber eq "701984""#,
    )
    .await;
}

/// Microsoft's SCIM documentation shows Entra checking a manager link with
/// `id eq <id> and manager eq <managerId>`: unqualified and unquoted.
async fn entra_manager_query_without_urn(app: TestApp) {
    let t = app.tenant().await;
    let boss = t.user("boss", json!({})).await;
    let u1 = t
        .user("u1", json!({ENTERPRISE: {"manager": {"value": boss}}}))
        .await;
    users(&t, &format!("id eq {u1} and manager eq {boss}"), &[&u1]).await;
    users(&t, &format!(r#"manager.value eq "{boss}""#), &[&u1]).await;
}

async fn group_filters_on_display_name_and_members(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("u1", json!({})).await;
    let u2 = t.user("u2", json!({})).await;
    let u3 = t.user("u3", json!({})).await;
    let admins = t.group("Admins", &[&u1, &u2]).await;
    let staff = t.group("Staff", &[&u2]).await;
    let empty = t.group("Empty", &[]).await;
    let outer = t.group("Outer", &[&admins]).await;
    let (u1, u2, u3) = (u1.as_str(), u2.as_str(), u3.as_str());
    let (admins, staff, empty, outer) = (
        admins.as_str(),
        staff.as_str(),
        empty.as_str(),
        outer.as_str(),
    );
    groups(&t, r#"displayName eq "Admins""#, &[admins]).await;
    groups(&t, r#"displayName eq "admins""#, &[admins]).await;
    groups(&t, r#"displayName eq "ADMINS""#, &[admins]).await;
    groups(&t, r#"displayName sw "s""#, &[staff]).await;
    groups(&t, &format!(r#"members eq "{u1}""#), &[admins]).await;
    groups(&t, &format!(r#"members.value eq "{u2}""#), &[admins, staff]).await;
    groups(
        &t,
        &format!(r#"members[value eq "{u2}"]"#),
        &[admins, staff],
    )
    .await;
    groups(&t, &format!(r#"members eq "{u3}""#), &[]).await;
    groups(&t, &format!(r#"members eq "{admins}""#), &[outer]).await;
    groups(
        &t,
        &format!(r#"members[value eq "{u1}" or value eq "{admins}"]"#),
        &[admins, outer],
    )
    .await;
    groups(&t, r#"members[type eq "Group"]"#, &[outer]).await;
    groups(&t, r#"members.type eq "User""#, &[admins, staff]).await;
    groups(&t, "members pr", &[admins, staff, outer]).await;
    groups(&t, "not (members pr)", &[empty]).await;
    groups(&t, &format!(r#"not (members eq "{u2}")"#), &[empty, outer]).await;
    // Entra's membership check.
    groups(
        &t,
        &format!(r#"id eq "{admins}" and members eq "{u1}""#),
        &[admins],
    )
    .await;
    groups(
        &t,
        &format!(r#"id eq "{staff}" and members eq "{u1}""#),
        &[],
    )
    .await;
    groups(
        &t,
        &format!(r#"displayName eq "Admins" and members.value eq "{u2}""#),
        &[admins],
    )
    .await;
    // Member ids are case-exact.
    groups(
        &t,
        &format!(r#"members eq "{}""#, u1.to_ascii_uppercase()),
        &[],
    )
    .await;
    rejects(&t, "/Groups", r#"userName eq "u1""#).await;
    rejects(&t, "/Groups", r#"members.nosuch eq "x""#).await;
}

async fn user_filters_on_group_membership(app: TestApp) {
    let t = app.tenant().await;
    let u1 = t.user("u1", json!({})).await;
    let u2 = t.user("u2", json!({})).await;
    let u3 = t.user("u3", json!({})).await;
    let admins = t.group("Admins", &[&u1, &u2]).await;
    let staff = t.group("Staff", &[&u2]).await;
    let (u1, u2, u3) = (u1.as_str(), u2.as_str(), u3.as_str());
    users(&t, &format!(r#"groups eq "{admins}""#), &[u1, u2]).await;
    users(&t, &format!(r#"groups.value eq "{staff}""#), &[u2]).await;
    users(&t, &format!(r#"groups[value eq "{staff}"]"#), &[u2]).await;
    users(
        &t,
        &format!(r#"groups eq "{admins}" and not (groups eq "{staff}")"#),
        &[u1],
    )
    .await;
    users(&t, "groups pr", &[u1, u2]).await;
    users(&t, "not (groups pr)", &[u3]).await;
}

async fn entra_unquoted_values_and_plus_encoded_spaces(app: TestApp) {
    let t = app.tenant().await;
    let ann = t.user("ann@x.com", json!({"externalId": "jyoung"})).await;
    let bob = t.user("bob@x.com", json!({"externalId": "007"})).await;
    users(&t, "externalId eq jyoung", &[&ann]).await;
    users(&t, "externalId eq JYOUNG", &[]).await;
    // `007` is not a JSON number, so it stays the string it was.
    users(&t, "externalId eq 007", &[&bob]).await;
    users(&t, "userName eq ann@x.com", &[&ann]).await;
    users(&t, &format!("id eq {ann}"), &[&ann]).await;
    users(
        &t,
        &format!("(id eq {ann}) and externalId eq jyoung"),
        &[&ann],
    )
    .await;
    // The raw query strings, exactly as Entra's validator sends them.
    for raw in [
        "/Users?filter=userName+eq+%22ann%40x.com%22",
        "/Users?filter=userName+eq+\"ann%40x.com\"",
        "/Users?filter=userName%20eq%20%22ANN%40X.COM%22",
        "/Users?filter=externalId+eq+jyoung",
    ] {
        let r = t.get(raw).await;
        assert_eq!(r.status, 200, "{raw}: {:?}", r.body);
        assert_eq!(r.body["totalResults"], 1, "{raw}: {:?}", r.body);
        assert_eq!(r.body["Resources"][0]["id"], ann.as_str(), "{raw}");
    }
    let r = t
        .get("/Users?filter=userName+eq+%22ann+smith%40x.com%22")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 0);
}

/// An unquoted value that happens to be a JSON number is compared with a string attribute by
/// its text: a long numeric employee id, or one with a trailing zero, must still match.
async fn unquoted_numeric_looking_values_compare_as_written(app: TestApp) {
    let t = app.tenant().await;
    let long = t
        .user("long", json!({"externalId": "12345678901234567890"}))
        .await;
    let dec = t.user("dec", json!({"externalId": "1.50"})).await;
    let small = t.user("small", json!({"externalId": "42"})).await;
    users(&t, "externalId eq 42", &[&small]).await;
    users(&t, "externalId eq 1.50", &[&dec]).await;
    users(&t, "externalId eq 12345678901234567890", &[&long]).await;
}

async fn like_metacharacters_quotes_and_backslashes_are_literal(app: TestApp) {
    let t = app.tenant().await;
    let meta = t.user("a_b%c", json!({})).await;
    let plain = t.user("aXbYc", json!({})).await;
    let abc = t.user("abc", json!({})).await;
    let slash = t
        .user(r"b\d", json!({"name": {"familyName": "O\"Brien"}}))
        .await;
    let quote = t
        .user("o'neil", json!({"name": {"familyName": "O'Neil"}}))
        .await;
    let (meta, _plain, _abc, slash, quote) = (
        meta.as_str(),
        plain.as_str(),
        abc.as_str(),
        slash.as_str(),
        quote.as_str(),
    );
    users(&t, r#"userName co "_b%""#, &[meta]).await;
    users(&t, r#"userName co "b_""#, &[]).await;
    users(&t, r#"userName co "%""#, &[meta]).await;
    users(&t, r#"userName co "_""#, &[meta]).await;
    users(&t, r#"userName sw "a_""#, &[meta]).await;
    users(&t, r#"userName ew "%c""#, &[meta]).await;
    users(&t, r#"userName eq "a_b%c""#, &[meta]).await;
    users(&t, r#"userName eq "a%""#, &[]).await;
    users(&t, r#"userName co "\\""#, &[slash]).await;
    users(&t, r#"userName eq "b\\d""#, &[slash]).await;
    users(&t, r#"userName sw "b\\""#, &[slash]).await;
    users(&t, r#"name.familyName eq "O\"Brien""#, &[slash]).await;
    users(&t, r#"name.familyName co "\"""#, &[slash]).await;
    users(&t, r#"name.familyName eq "o'neil""#, &[quote]).await;
    users(&t, r#"userName eq "o'neil' OR '1'='1""#, &[]).await;
    users(&t, r#"userName co "'""#, &[quote]).await;
    users(&t, r#"userName eq "b\u005cd""#, &[slash]).await;
}

async fn no_match_is_an_empty_list_not_404(app: TestApp) {
    let t = app.tenant().await;
    t.user("someone", json!({})).await;
    t.group("Someone", &[]).await;
    for path in [
        "/Users?filter=userName%20eq%20%22nobody%22",
        "/Groups?filter=displayName%20eq%20%22nobody%22",
    ] {
        let r = t.get(path).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        assert_eq!(
            r.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        );
        assert_eq!(r.body["totalResults"], json!(0), "{path}");
        assert_eq!(r.body["Resources"], json!([]), "{path}");
        assert_eq!(r.body["startIndex"], json!(1), "{path}");
        assert_eq!(r.body["itemsPerPage"], json!(0), "{path}");
    }
    // A fresh tenant with nothing in it.
    let empty = app.tenant().await;
    let r = empty.get("/Users").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], json!(0));
    assert_eq!(r.body["Resources"], json!([]));
}

async fn bad_filters_are_invalid_filter_errors(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("keep", json!({"title": "Eng"})).await;
    let deep = format!("{}userName eq \"keep\"{}", "(".repeat(50), ")".repeat(50));
    let deep_not = format!(
        "{}userName eq \"keep\"{}",
        "not (".repeat(50),
        ")".repeat(50)
    );
    let many = vec![r#"userName eq "keep""#; 300].join(" or ");
    let many_and = vec!["title pr"; 300].join(" and ");
    let bad: Vec<String> = [
        "userName eq",
        "userName",
        r#"userName "keep""#,
        r#"userName eq "keep" and"#,
        r#"and userName eq "keep""#,
        r#"userName eq "keep" or or title pr"#,
        r#"userName eq "keep" xor title pr"#,
        r#"userName eq "keep" title pr"#,
        r#"nosuch eq "keep""#,
        r#"userName.nosuch eq "keep""#,
        r#"userName zz "keep""#,
        r#"userName like "keep""#,
        r#"userName === "keep""#,
        r#"(userName eq "keep""#,
        r#"userName eq "keep")"#,
        r#"((userName eq "keep") or title pr"#,
        r#"title pr "Eng""#,
        r#"title pr Eng"#,
        r#"userName eq "unterminated"#,
        r#"userName eq "bad \q escape""#,
        r#"emails[type eq "work""#,
        r#"emails[type eq "work"]]"#,
        r#"emails[nosuch eq "x"]"#,
        r#"emails[type eq "work" and phoneNumbers[type eq "x"]]"#,
        r#"userName[value eq "x"]"#,
        r#"name eq "x""#,
        r#"not userName eq "keep""#,
        r#"not"#,
        r#"()"#,
        r#"userName eq ()"#,
        r#"meta.version eq "W/\"1\"""#,
        r#"meta.location eq "x""#,
        "urn:ietf:params:scim:schemas:core:2.0:User",
        r#"emails.value eq "x" ]"#,
        "\u{0}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([deep, deep_not, many, many_and])
    .collect();
    for f in &bad {
        rejects(&t, "/Users", f).await;
    }
    rejects(&t, "/Groups", r#"members[value eq "x""#).await;
    rejects(&t, "/Groups", r#"displayName eq"#).await;
    // Nothing changed and the server still answers.
    let all = t.get("/Users").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.body["totalResults"], 1);
    let got = t.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["meta"]["version"], "W/\"1\"");
}

/// The parser allows 32 levels of nesting and 200 expressions; filters right at those limits
/// must run in the database (SQLite's parser has its own stack limit), not fail with a 500.
async fn filters_at_the_size_limits_still_run(app: TestApp) {
    let t = app.tenant().await;
    let a = t
        .user("a", json!({"emails": [email("work", "a@example.com")]}))
        .await;
    let b = t.user("b", json!({"title": "T"})).await;
    let or_200 = (0..199)
        .map(|i| format!(r#"userName eq "nobody{i}""#))
        .chain([r#"userName eq "a""#.to_owned()])
        .collect::<Vec<_>>()
        .join(" or ");
    users(&t, &or_200, &[&a]).await;
    let and_200 = vec![r#"userName ne "zz""#; 199].join(" and ") + r#" and title pr"#;
    users(&t, &and_200, &[&b]).await;
    let vp_200 = (0..199)
        .map(|i| format!(r#"emails[type eq "t{i}"]"#))
        .chain([r#"emails[type eq "work"]"#.to_owned()])
        .collect::<Vec<_>>()
        .join(" or ");
    users(&t, &vp_200, &[&a]).await;
    let nested_31 = format!("{}userName eq \"b\"{}", "(".repeat(31), ")".repeat(31));
    users(&t, &nested_31, &[&b]).await;
    let not_31 = format!(
        "{}userName eq \"b\"{}",
        "not (not (".repeat(15),
        "))".repeat(15)
    );
    users(&t, &not_31, &[&b]).await;
    // The same filters by POST .search.
    let r = t
        .post(
            "/Users/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": or_200}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["totalResults"], 1);
}

/// The tenant's internal id, for building SQL directly.
async fn tenant_id(app: &TestApp, t: &Tenant) -> String {
    let slug = t.slug.clone();
    app.state
        .db
        .run(move |c| muster::tenants::by_slug(c, &slug.as_str().into()))
        .await
        .map_err(|e: muster::error::Error| e.to_string())
        .expect("tenant")
        .id
        .into_string()
}

#[derive(diesel::QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

#[derive(diesel::QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[diesel(column_name = "QUERY PLAN")]
    plan: String,
}

/// The plan of the page query for `filter` on Users, one line per row.
async fn plan(app: &TestApp, tenant: &str, filter: &str) -> Vec<String> {
    let dialect = match app.backend {
        Backend::Sqlite => Dialect::Sqlite,
        Backend::Postgres => Dialect::Postgres,
    };
    let q = ListQuery {
        filter: Some(parse_filter(filter).expect("filter parses")),
        sort_by: None,
        descending: false,
        start: 1,
        count: 100,
    };
    let mut sql = page_sql(dialect, &tenant.into(), Kind::User, &q).expect("page sql");
    let backend = app.backend;
    app.state
        .db
        .run(move |c| -> Result<Vec<String>, muster::db::DbError> {
            use diesel::RunQueryDsl;
            match backend {
                Backend::Sqlite => {
                    sql.text = format!("EXPLAIN QUERY PLAN {}", sql.text);
                    let rows: Vec<SqlitePlanRow> = muster::db::sql::load(c, &sql)?;
                    Ok(rows.into_iter().map(|r| r.detail).collect())
                }
                Backend::Postgres => {
                    // With sequential scans priced out, the plan shows whether the SQL can use
                    // the indexes at all, whatever the (tiny) table sizes.
                    diesel::sql_query("SET enable_seqscan = off").execute(c)?;
                    sql.text = format!("EXPLAIN {}", sql.text);
                    let rows: Result<Vec<PgPlanRow>, _> = muster::db::sql::load(c, &sql);
                    diesel::sql_query("RESET enable_seqscan").execute(c)?;
                    Ok(rows?.into_iter().map(|r| r.plan).collect())
                }
            }
        })
        .await
        .expect("explain")
}

/// Adds `n` users straight into the tables (and their `userName` index rows), so the planner
/// sees a tenant of realistic size. PostgreSQL gets fresh statistics, as autovacuum would give
/// it; SQLite gets none, as muster never runs ANALYZE.
async fn bulk_users(app: &TestApp, tenant: &str, n: i64) {
    let tenant = tenant.to_owned();
    let backend = app.backend;
    app.state
        .db
        .run(move |c| -> Result<(), muster::db::DbError> {
            use diesel::RunQueryDsl;
            let series = match backend {
                Backend::Sqlite => format!(
                    "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {n}) "
                ),
                Backend::Postgres => String::new(),
            };
            let from = match backend {
                Backend::Sqlite => "FROM g".to_owned(),
                Backend::Postgres => format!("FROM generate_series(1, {n}) AS g(n)"),
            };
            diesel::sql_query(format!(
                "{series}INSERT INTO users (id, tenant_id, user_name, user_name_key, external_id, \
                 display_name, active, doc, password_hash, version, created_at, updated_at) \
                 SELECT 'bulk-{tenant}-' || n, '{tenant}', 'bulk' || n, 'bulk' || n, 'bext' || n, NULL, \
                 true, '{{}}', NULL, 1, '2020-01-01T00:00:00.000000Z', \
                 '2020-01-01T00:00:00.000000Z' {from}"
            ))
            .execute(c)?;
            for (path, val) in [
                ("username", "user_name_key"),
                ("emails", "NULL"),
                ("emails.type", "'work'"),
                ("emails.value", "user_name_key || '@x.com'"),
            ] {
                diesel::sql_query(format!(
                    "INSERT INTO attrs (tenant_id, rtype, resource_id, path, elem, val, num) \
                     SELECT tenant_id, 'User', id, '{path}', 0, {val}, NULL FROM users \
                     WHERE tenant_id = '{tenant}' AND id LIKE 'bulk-%'"
                ))
                .execute(c)?;
            }
            if backend == Backend::Postgres {
                diesel::sql_query("ANALYZE users").execute(c)?;
                diesel::sql_query("ANALYZE attrs").execute(c)?;
            }
            Ok(())
        })
        .await
        .expect("bulk users");
}

async fn equality_filters_use_the_attrs_index(app: TestApp) {
    let t = app.tenant().await;
    for i in 0..20 {
        t.user(
            &format!("user{i}@x.com"),
            json!({"externalId": format!("ext{i}"), "displayName": format!("User {i}"),
                   "emails": [email("work", &format!("user{i}@x.com"))]}),
        )
        .await;
    }
    let other = app.tenant().await;
    other
        .user("user1@x.com", json!({"externalId": "ext1"}))
        .await;
    let tenant = tenant_id(&app, &t).await;
    bulk_users(&app, &tenant, 5000).await;
    let mut problems = Vec::new();
    for (filter, index) in [
        (r#"userName eq "user1@x.com""#, "attrs_lookup"),
        (r#"displayName eq "User 1""#, "attrs_lookup"),
        (r#"emails.value eq "user1@x.com""#, "attrs_lookup"),
        (r#"emails eq "user1@x.com""#, "attrs_lookup"),
        (r#"externalId eq "ext1""#, "users_external_id"),
    ] {
        // The filter really finds the one user...
        let found = t.user_ids(filter).await;
        assert_eq!(found.len(), 1, "{filter}");
        // ...and the plan reaches it through the index, not by walking the tenant.
        let lines = plan(&app, &tenant, filter).await;
        let text = lines.join("\n");
        let mut problem = |what: String| problems.push(format!("{filter}: {what}\n{text}\n"));
        match app.backend {
            Backend::Sqlite => {
                if !text.contains(&format!("USING INDEX {index} ("))
                    && !text.contains(&format!("USING COVERING INDEX {index} ("))
                {
                    problem(format!("does not search {index}"));
                }
                for l in &lines {
                    let l = l.trim();
                    if l.starts_with("SCAN ") && !l.contains("CONSTANT ROW") {
                        problem(format!("full scan `{l}`"));
                    }
                    // `SEARCH r USING INDEX users_created (tenant_id=?)` walks every user of
                    // the tenant and tests each one: linear in the size of the tenant.
                    if l.ends_with("(tenant_id=?)") {
                        problem(format!("`{l}` reads the whole tenant"));
                    }
                }
            }
            Backend::Postgres => {
                if !text.contains(&format!(" on {index}"))
                    && !text.contains(&format!("using {index} on"))
                {
                    problem(format!("does not use {index}"));
                }
                if text.contains("Seq Scan") {
                    problem("sequential scan".to_owned());
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Entra matches users with `emails[type eq "work"].value eq "x"`. That lookup must start from
/// the index entry of the value, not from every email element of the tenant.
async fn entra_value_path_lookup_is_driven_by_the_value(app: TestApp) {
    let t = app.tenant().await;
    let want = t
        .user(
            "target",
            json!({"emails": [email("work", "target@x.com"), email("home", "home@x.com")]}),
        )
        .await;
    let tenant = tenant_id(&app, &t).await;
    bulk_users(&app, &tenant, 5000).await;
    let filter = r#"emails[type eq "work"].value eq "target@x.com""#;
    assert_eq!(t.user_ids(filter).await, vec![want]);
    let lines = plan(&app, &tenant, filter).await;
    let text = lines.join("\n");
    match app.backend {
        Backend::Sqlite => assert!(
            text.contains(
                "USING INDEX attrs_lookup (tenant_id=? AND rtype=? AND path=? AND val=?)"
            ),
            "no index search on the value; the plan walks every email of the tenant:\n{text}"
        ),
        Backend::Postgres => assert!(
            lines.iter().any(|l| l.contains("Index Cond")
                && l.contains("'emails.value'")
                && l.contains("'target@x.com'")),
            "no index search on the value; the plan walks every email of the tenant:\n{text}"
        ),
    }
}
