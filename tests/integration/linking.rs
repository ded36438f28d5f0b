//! How a first sign-in finds an existing user: only by the rule the provider's admin chose
//! (a verified email, the userName, an immutable claim against the externalId), with names and
//! addresses compared under one strict folding. Each attack is an IdP account the attacker
//! controls at a real OpenID provider; the rule is set through the admin API.

use crate::sso::{assert_refused, setup, Agent, Setup};
use crate::util::TestApp;
use muster::tenants::Mode;
use serde_json::{json, Value};

/// Changes the provider `okta` through the admin API, as the tenant's admin would.
async fn change_okta(s: &Setup, change: Value) -> Value {
    admin_patch(s, "/idps/okta", change).await
}

/// Switches the tenant's mode (SCIM writes the users first, then the tenant runs `jit`).
async fn switch_mode(s: &Setup, mode: &str) {
    admin_patch(s, "", json!({ "mode": mode })).await;
}

async fn admin_patch(s: &Setup, path: &str, change: Value) -> Value {
    let token = s.app.admin_token().await;
    let r = s
        .app
        .client
        .patch(format!(
            "{}/admin/v1/tenants/{}{path}",
            s.app.url, s.tenant.slug
        ))
        .bearer_auth(token)
        .json(&change)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// Every user of the tenant, by id.
async fn everyone(s: &Setup) -> Vec<String> {
    let mut ids = s.tenant.user_ids("userName pr").await;
    ids.sort();
    ids
}

async fn a_username_from_an_unverified_address_takes_nobody_over(app: TestApp) {
    let s = setup(app, Mode::Scim).await;
    let alice = s
        .tenant
        .user(
            "alice@example.test",
            json!({"emails": [{"value": "alice@example.test", "primary": true}]}),
        )
        .await;
    switch_mode(&s, "jit").await;
    // The admin names people by their address; mallory's IdP account carries alice's,
    // unverified. By either rule, and in jit mode, she is refused and nothing is made.
    change_okta(&s, json!({"mapping": {"userName": ["email"]}})).await;
    for by in ["email", "userName"] {
        let changed = change_okta(&s, json!({"link_by": by})).await;
        assert_eq!(changed["link_by"], by);
        let mut agent = Agent::new();
        let page = s.sign_in(&mut agent, "mallory").await;
        assert_refused(&s, &agent, &page, 403, "not verified");
        assert_eq!(everyone(&s).await, vec![alice.clone()]);
    }
    // alice, whose address the IdP verified, reaches her account.
    let mut agent = Agent::new();
    assert_eq!(s.sign_in(&mut agent, "alice").await.status, 303);
    let account = s.account(&mut agent).await;
    assert!(
        account.body.contains("alice@example.test"),
        "{}",
        account.body
    );
    assert_eq!(everyone(&s).await, vec![alice]);
}

async fn a_look_alike_username_links_to_nobody(app: TestApp) {
    let s = setup(app, Mode::Scim).await;
    change_okta(&s, json!({"link_by": "userName"})).await;
    let kim = s.tenant.user("kim", json!({})).await;
    switch_mode(&s, "jit").await;
    // kelvin's preferred_username is "\u{212A}im": the Kelvin sign, which Unicode lowercases
    // to "k". It neither links to kim nor becomes a second "kim".
    let mut agent = Agent::new();
    let page = s.sign_in(&mut agent, "kelvin").await;
    assert_refused(&s, &agent, &page, 409, "belongs to another account");
    assert_eq!(everyone(&s).await, vec![kim]);
}

async fn entra_names_link_only_when_the_admin_trusts_them(app: TestApp) {
    // Entra provisions people with userName = UPN and signs them in over OIDC with the UPN as
    // preferred_username and no email_verified.
    let s = setup(app, Mode::Scim).await;
    let ada = s
        .tenant
        .user(
            "ada@contoso.test",
            json!({"emails": [{"value": "ada@contoso.test", "primary": true}]}),
        )
        .await;
    let mut agent = Agent::new();
    let page = s.sign_in(&mut agent, "ada").await;
    assert_refused(&s, &agent, &page, 403, "not provisioned");

    // The tenant's own directory: people cannot choose their UPN, so names may link.
    change_okta(&s, json!({"link_by": "userName"})).await;
    let mut agent = Agent::new();
    assert_eq!(s.sign_in(&mut agent, "ada").await.status, 303);
    let account = s.account(&mut agent).await;
    assert!(
        account.body.contains("ada@contoso.test"),
        "{}",
        account.body
    );
    assert_eq!(everyone(&s).await, vec![ada]);
}

async fn an_immutable_claim_links_by_external_id_alone(app: TestApp) {
    let s = setup(app, Mode::Scim).await;
    // The IdP's subject for this person is "oid-7f3a"; its verified address is
    // oid-7f3a@example.test, which another user has.
    let grace = s
        .tenant
        .user("grace", json!({"externalId": "oid-7f3a"}))
        .await;
    let other = s
        .tenant
        .user(
            "someone",
            json!({"emails": [{"value": "oid-7f3a@example.test", "primary": true}]}),
        )
        .await;
    let changed = change_okta(&s, json!({"link_by": "claim:sub"})).await;
    assert_eq!(changed["link_by"], "claim:sub");
    let mut agent = Agent::new();
    assert_eq!(s.sign_in(&mut agent, "oid-7f3a").await.status, 303);
    let account = s.account(&mut agent).await;
    assert!(account.body.contains("grace"), "{}", account.body);
    // A subject no externalId carries links to nobody, whatever its address.
    let mut agent = Agent::new();
    let page = s.sign_in(&mut agent, "nobody-oid").await;
    assert_refused(&s, &agent, &page, 403, "not provisioned");
    let mut all = vec![grace, other];
    all.sort();
    assert_eq!(everyone(&s).await, all);
}

async fn the_admin_may_vouch_for_an_oidc_providers_addresses(app: TestApp) {
    let s = setup(app, Mode::Scim).await;
    s.tenant
        .user(
            "nv",
            json!({"emails": [{"value": "noverify@example.test", "primary": true}]}),
        )
        .await;
    let mut agent = Agent::new();
    let page = s.sign_in(&mut agent, "noverify").await;
    assert_refused(&s, &agent, &page, 403, "not provisioned");
    let changed = change_okta(&s, json!({"trust_email": true})).await;
    assert_eq!(
        (changed["trust_email"].clone(), changed["link_by"].clone()),
        (json!(true), json!("email"))
    );
    let mut agent = Agent::new();
    assert_eq!(s.sign_in(&mut agent, "noverify").await.status, 303);
    let account = s.account(&mut agent).await;
    assert!(account.body.contains("nv"), "{}", account.body);
}

crate::on_both_backends!(
    a_username_from_an_unverified_address_takes_nobody_over,
    a_look_alike_username_links_to_nobody,
    entra_names_link_only_when_the_admin_trusts_them,
    an_immutable_claim_links_by_external_id_alone,
    the_admin_may_vouch_for_an_oidc_providers_addresses,
);
