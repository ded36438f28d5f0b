//! A person's lifecycle: provisioning modes, invitations by email through a real SMTP server,
//! passwords (sign-in, throttling, reset), templates, and the admin's deactivate and delete.

use crate::browser::browse;
use crate::peers::{self, Smtp};
use crate::sso::{Agent, Page};
use crate::util::{Backend, Tenant, TestApp};
use muster::error::Error;
use muster::notify::{outbox, templates, Kind as MailKind};
use muster::people::{invites, passwords, users};
use muster::tenants::Mode;
use serde_json::{json, Value};
use time::Duration;

const PASSWORD: &str = "correct horse battery staple";

/// An app with its own database whose emails go to a fresh SMTP peer.
async fn with_smtp(backend: Backend) -> Option<(TestApp, Smtp)> {
    let smtp = peers::smtp();
    let url = smtp.url.clone();
    let app = TestApp::start_with(backend, true, move |c| c.smtp_url = Some(url)).await?;
    Some((app, smtp))
}

async fn invite(
    app: &TestApp,
    t: &Tenant,
    email: &str,
    lifetime: Duration,
) -> Result<invites::Invited, Error> {
    let (url, slug, email) = (app.url.clone(), t.slug.clone(), email.to_owned());
    app.state
        .db
        .run(move |c| {
            let t = muster::tenants::by_slug(c, &slug.as_str().into())?;
            invites::invite(c, &url, &t, &email, true, lifetime)
        })
        .await
}

/// The first URL in a text.
fn link_in(text: &str) -> String {
    let at = text.find("http").expect("a link");
    text[at..].split_whitespace().next().unwrap().to_owned()
}

fn base(app: &TestApp, t: &Tenant) -> String {
    format!("{}/t/{}", app.url, t.slug)
}

async fn login(agent: &mut Agent, app: &TestApp, t: &Tenant, user: &str, password: &str) -> Page {
    agent
        .post(
            &format!("{}/login", base(app, t)),
            &[("username", user), ("password", password)],
        )
        .await
}

async fn user_id(app: &TestApp, t: &Tenant, login: &str) -> String {
    let (slug, l) = (t.slug.clone(), login.to_owned());
    app.state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            users::require(c, &tid, &l)
        })
        .await
        .unwrap()
        .into_string()
}

async fn set_active(app: &TestApp, t: &Tenant, login: &str, active: bool) {
    let id = user_id(app, t, login).await;
    let slug = t.slug.clone();
    app.state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            users::set_active(c, &tid, &id.as_str().into(), active)
        })
        .await
        .unwrap();
}

/// Accepts an invitation over HTTP with the test password; returns the signed-in agent.
async fn accept(link: &str) -> Agent {
    let mut agent = Agent::new();
    let page = agent.get(link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let done = agent
        .post(link, &[("password", PASSWORD), ("confirm", PASSWORD)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    agent
}

async fn scim_writes_follow_the_mode(app: TestApp) {
    for mode in [Mode::Jit, Mode::Invite] {
        let t = app.tenant_with_mode(mode).await;
        let r = t
            .post(
                "/Users",
                &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x@example.test"}),
            )
            .await;
        assert_eq!(r.status, 403, "{mode}: {:?}", r.body);
        assert_eq!(r.body["status"], "403");
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("{mode} mode")), "{detail}");
        // Reads still work, and an invited person is visible to the IdP.
        invite(&app, &t, "guest@example.test", invites::LIFETIME)
            .await
            .unwrap();
        let ids = t.user_ids(r#"userName eq "guest@example.test""#).await;
        assert_eq!(ids.len(), 1);
        let u = t.get(&format!("/Users/{}", ids[0])).await;
        assert_eq!(u.body["active"], false, "not active until accepted");
        for (method, body) in [
            (
                reqwest::Method::PUT,
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "y@example.test"}),
            ),
            (
                reqwest::Method::PATCH,
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": true}]}),
            ),
            (reqwest::Method::DELETE, Value::Null),
        ] {
            let mut rb = t.req(method.clone(), &format!("/Users/{}", ids[0]));
            if !body.is_null() {
                rb = rb.json(&body);
            }
            let r = t.send(rb).await;
            assert_eq!(r.status, 403, "{mode} {method}");
        }
        let r = t
            .post(
                "/Bulk",
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "z@example.test"}}
                ]}),
            )
            .await;
        assert_eq!(r.body["Operations"][0]["status"], "403", "{:?}", r.body);
        assert!(t.user_ids(r#"userName sw "z@""#).await.is_empty());
    }
    // In scim mode too, an admin may invite someone the IdP does not know.
    let t = app.tenant().await;
    let i = invite(&app, &t, "partner@example.test", invites::LIFETIME)
        .await
        .unwrap();
    accept(&i.link).await;
    assert_eq!(
        login(
            &mut Agent::new(),
            &app,
            &t,
            "partner@example.test",
            PASSWORD
        )
        .await
        .status,
        303
    );
    // Switching to scim mode opens writes without losing anyone.
    let t = app.tenant_with_mode(Mode::Jit).await;
    invite(&app, &t, "kept@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let slug = t.slug.clone();
    app.state
        .db
        .run(move |c| {
            let t = muster::tenants::by_slug(c, &slug.as_str().into())?;
            muster::tenants::set_mode(c, &t.id, Mode::Scim)
        })
        .await
        .unwrap();
    assert_eq!(
        t.user_ids(r#"userName eq "kept@example.test""#).await.len(),
        1
    );
    let r = t
        .post(
            "/Users",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x@example.test"}),
        )
        .await;
    assert_eq!(r.status, 201);
}

async fn invite_email_browser_password_and_deactivation(backend: Backend) {
    let Some((app, smtp)) = with_smtp(backend).await else {
        return;
    };
    let t = app.tenant_with_mode(Mode::Invite).await;
    let invited = invite(&app, &t, "ada@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail.len(), 1);
    let m = &mail[0];
    assert_eq!(m["rcpt_tos"], json!(["ada@example.test"]));
    assert_eq!(m["subject"], format!("You are invited to {}", t.slug));
    let link = link_in(m["text"].as_str().unwrap());
    assert_eq!(link, invited.link);
    assert!(m["html"]
        .as_str()
        .unwrap()
        .contains("Accept the invitation"));

    // The person follows the link in a browser and chooses a password.
    let result = browse(json!({
        "start": link,
        "steps": [
            {"expect_text": "ada@example.test"},
            {"fill": {"password": PASSWORD, "confirm": PASSWORD}},
            {"click": "Accept the invitation"},
            {"expect_url_prefix": format!("{}/account", base(&app, &t))},
            {"expect_text": "ada@example.test"},
        ],
        "timeout_ms": 30000,
    }))
    .await;
    assert_eq!(result["ok"], true, "{result:#}");

    // The link is spent; the password signs in.
    let mut agent = Agent::new();
    let again = agent.get(&link).await;
    assert_eq!(again.status, 410);
    assert!(again.body.contains("already accepted"), "{}", again.body);
    let done = login(&mut agent, &app, &t, "ada@example.test", PASSWORD).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        agent
            .get(&format!("{}/account", base(&app, &t)))
            .await
            .status,
        200
    );
    let ids = t.user_ids(r#"userName eq "ada@example.test""#).await;
    assert_eq!(
        t.get(&format!("/Users/{}", ids[0])).await.body["active"],
        true
    );

    // Deactivated: the session ends at once and the password no longer works.
    set_active(&app, &t, "ada@example.test", false).await;
    let account = agent.get(&format!("{}/account", base(&app, &t))).await;
    assert_eq!(account.status, 303);
    let mut fresh = Agent::new();
    let refused = login(&mut fresh, &app, &t, "ada@example.test", PASSWORD).await;
    assert_eq!(refused.status, 401);

    // Reactivated, then a self-service reset through the email.
    set_active(&app, &t, "ada@example.test", true).await;
    let mut old = Agent::new();
    assert_eq!(
        login(&mut old, &app, &t, "ada@example.test", PASSWORD)
            .await
            .status,
        303
    );
    let sent = fresh
        .post(
            &format!("{}/forgot", base(&app, &t)),
            &[("email", "ada@example.test")],
        )
        .await;
    assert_eq!(sent.status, 200);
    let unknown = fresh
        .post(
            &format!("{}/forgot", base(&app, &t)),
            &[("email", "nobody@example.test")],
        )
        .await;
    assert_eq!(unknown.status, sent.status);
    assert_eq!(
        unknown.body, sent.body,
        "the same answer for an unknown address"
    );
    let mail = smtp.wait_for(2).await;
    assert_eq!(mail.len(), 2, "no email for the unknown address");
    assert_eq!(mail[1]["rcpt_tos"], json!(["ada@example.test"]));
    let reset = link_in(mail[1]["text"].as_str().unwrap());
    assert!(reset.contains("/reset/"), "{reset}");
    const NEW: &str = "a brand new passphrase here";
    let result = browse(json!({
        "start": reset,
        "steps": [
            {"fill": {"password": NEW, "confirm": NEW}},
            {"click": "Set the password"},
            {"expect_url_prefix": format!("{}/login", base(&app, &t))},
            {"fill": {"username": "ada@example.test", "password": NEW}},
            {"click": "Sign in"},
            {"expect_url_prefix": format!("{}/account", base(&app, &t))},
        ],
        "timeout_ms": 30000,
    }))
    .await;
    assert_eq!(result["ok"], true, "{result:#}");
    // The reset ended the old session and the old password.
    assert_eq!(
        old.get(&format!("{}/account", base(&app, &t))).await.status,
        303
    );
    assert_eq!(
        login(&mut Agent::new(), &app, &t, "ada@example.test", PASSWORD)
            .await
            .status,
        401
    );
    assert_eq!(
        Agent::new().get(&reset).await.status,
        410,
        "a reset link works once"
    );
}

async fn smtp_outage_delays_but_loses_no_email(backend: Backend) {
    let Some((app, smtp)) = with_smtp(backend).await else {
        return;
    };
    let t = app.tenant_with_mode(Mode::Invite).await;
    smtp.stop().await;
    for n in 0..3 {
        invite(&app, &t, &format!("p{n}@example.test"), invites::LIFETIME)
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(smtp.messages().await.is_empty());
    let tid = muster::tenants::by_slug(&mut app.state.db.conn().unwrap(), &t.slug.as_str().into())
        .unwrap()
        .id;
    let attempts: Vec<(String, i32, Option<String>)> = {
        use diesel::prelude::*;
        use muster::db::schema::notifications as n;
        let mut c = app.state.db.conn().unwrap();
        n::table
            .filter(n::tenant_id.eq(&tid))
            .select((n::status, n::attempts, n::last_error))
            .load(&mut c)
            .unwrap()
    };
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts
            .iter()
            .all(|(s, a, e)| s == "pending" && *a >= 1 && e.is_some()),
        "{attempts:?}"
    );

    // A second process delivering the same outbox: still one email each.
    let other = muster::state::AppState::open(app.state.config.as_ref().clone()).unwrap();
    let worker = actix_web::rt::spawn(outbox::worker(
        other.db.clone(),
        other.mailer.clone(),
        other.config.mail_from.clone(),
        other.email_stop.clone(),
    ));
    for n in 3..12 {
        invite(&app, &t, &format!("p{n}@example.test"), invites::LIFETIME)
            .await
            .unwrap();
    }
    smtp.start().await;
    let mail = smtp.wait_for(12).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let mail_after = smtp.messages().await;
    other.email_stop.stop().await;
    worker.await.unwrap();
    assert_eq!(mail_after.len(), 12, "{mail:?}");
    let mut to: Vec<String> = mail_after
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_owned())
        .collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 12, "each email exactly once");
    // Sent emails keep no link.
    use diesel::prelude::*;
    use muster::db::schema::notifications as n;
    let bodies: Vec<(String, String)> = n::table
        .filter(n::tenant_id.eq(&tid))
        .select((n::status, n::text))
        .load(&mut app.state.db.conn().unwrap())
        .unwrap();
    assert!(
        bodies.iter().all(|(s, b)| s == "sent" && b.is_empty()),
        "{bodies:?}"
    );
}

async fn throttling_and_no_enumeration(app: TestApp) {
    let t = app.tenant_with_mode(Mode::Invite).await;
    let i = invite(&app, &t, "bea@example.test", invites::LIFETIME)
        .await
        .unwrap();
    accept(&i.link).await;
    // Wrong password and unknown user: the same answer.
    let wrong = login(
        &mut Agent::new(),
        &app,
        &t,
        "bea@example.test",
        "not the password at all",
    )
    .await;
    let unknown = login(
        &mut Agent::new(),
        &app,
        &t,
        "nobody@example.test",
        "not the password at all",
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(
        wrong.body.replace("bea@example.test", "X"),
        unknown.body.replace("nobody@example.test", "X")
    );
    for _ in 1..passwords::ACCOUNT_LIMIT {
        assert_eq!(
            login(
                &mut Agent::new(),
                &app,
                &t,
                "bea@example.test",
                "guess guess guess"
            )
            .await
            .status,
            401
        );
    }
    // Past the limit: 429 with Retry-After, even with the right password.
    let r = app
        .client
        .post(format!("{}/login", base(&app, &t)))
        .form(&[("username", "bea@example.test"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    // A login form posted from another site is refused before anything is checked.
    let r = app
        .client
        .post(format!("{}/login", base(&app, &t)))
        .header("origin", "https://evil.example")
        .form(&[("username", "cy@example.test"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(!r.headers().contains_key("set-cookie"));
    // Another account from elsewhere is not affected by bea's lock.
    let j = invite(&app, &t, "cy@example.test", invites::LIFETIME)
        .await
        .unwrap();
    accept(&j.link).await;
    assert_eq!(
        login(&mut Agent::new(), &app, &t, "cy@example.test", PASSWORD)
            .await
            .status,
        303
    );
}

async fn dead_links_say_what_happened(app: TestApp) {
    let t = app.tenant_with_mode(Mode::Invite).await;
    let expired = invite(&app, &t, "old@example.test", Duration::seconds(-1))
        .await
        .unwrap();
    let page = Agent::new().get(&expired.link).await;
    assert_eq!(page.status, 410);
    assert!(page.body.contains("expired"), "{}", page.body);
    let revoked = invite(&app, &t, "gone@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let slug = t.slug.clone();
    app.state
        .db
        .run(move |c| {
            let t = muster::tenants::by_slug(c, &slug.as_str().into())?;
            invites::revoke(c, &t.id, "gone@example.test")
        })
        .await
        .unwrap();
    let page = Agent::new().get(&revoked.link).await;
    assert_eq!(page.status, 410);
    assert!(page.body.contains("withdrawn"), "{}", page.body);
    let page = Agent::new()
        .get(&format!("{}/invite/msi_nonsense", base(&app, &t)))
        .await;
    assert_eq!(page.status, 404);
    // Inviting again replaces the link: the first stops working.
    let first = invite(&app, &t, "twice@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let second = invite(&app, &t, "twice@example.test", invites::LIFETIME)
        .await
        .unwrap();
    assert!(second.resent);
    assert_eq!(Agent::new().get(&first.link).await.status, 410);
    // A weak password is refused with a reason and changes nothing.
    let mut agent = Agent::new();
    let weak = agent
        .post(&second.link, &[("password", "short"), ("confirm", "short")])
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("at least 12"), "{}", weak.body);
    let own = agent
        .post(
            &second.link,
            &[
                ("password", "twice@example.test"),
                ("confirm", "twice@example.test"),
            ],
        )
        .await;
    assert_eq!(own.status, 400);
    assert_eq!(agent.get(&second.link).await.status, 200, "still usable");
    // An active user cannot be invited again.
    accept(&second.link).await;
    let err = invite(&app, &t, "twice@example.test", invites::LIFETIME)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("already has an active account"),
        "{err}"
    );
}

async fn templates_are_checked_and_used(backend: Backend) {
    let Some((app, smtp)) = with_smtp(backend).await else {
        return;
    };
    let t = app.tenant_with_mode(Mode::Invite).await;
    let slug = t.slug.clone();
    let err = app
        .state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            templates::set(
                c,
                &tid,
                MailKind::Invite,
                templates::Change {
                    html: Some("<p>Hi</p>\n<p>{{ tenant_nam }}</p>".into()),
                    ..Default::default()
                },
            )
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    let slug = t.slug.clone();
    app.state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            templates::set(
                c,
                &tid,
                MailKind::Invite,
                templates::Change {
                    subject: Some("Welcome aboard {{ tenant_name }}".into()),
                    text: Some("Join here: {{ link }}\n".into()),
                    ..Default::default()
                },
            )
        })
        .await
        .unwrap();
    let i = invite(&app, &t, "dee@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail[0]["subject"], format!("Welcome aboard {}", t.slug));
    assert_eq!(
        mail[0]["text"].as_str().unwrap().trim(),
        format!("Join here: {}", i.link)
    );
}

/// A template that loops is refused when saved; one stored before that rule (written to the
/// database here) cannot stall anything at send time: it is refused again, the email goes
/// out with the shipped template, and other writes go on.
async fn a_looping_template_is_refused_and_stalls_nothing(app: TestApp) {
    let t = app.tenant_with_mode(Mode::Invite).await;
    let i = invite(&app, &t, "eve@example.test", invites::LIFETIME)
        .await
        .unwrap();
    accept(&i.link).await;
    let looping =
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}";
    let ops = app
        .state
        .db
        .run(|c| {
            muster::auth::admin_tokens::create(c, &format!("ops-{}", uuid::Uuid::new_v4().simple()))
        })
        .await
        .unwrap();
    let r = app
        .client
        .put(format!(
            "{}/admin/v1/tenants/{}/templates/password_reset",
            app.url, t.slug
        ))
        .bearer_auth(&ops)
        .json(&json!({"html": looping}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["field"], "html", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("{% for %}"),
        "{body}"
    );

    let (slug, html) = (t.slug.clone(), looping.to_owned());
    let tid = app
        .state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use muster::db::schema::notification_templates as nt;
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            diesel::insert_into(nt::table)
                .values((
                    nt::tenant_id.eq(&tid),
                    nt::kind.eq("password_reset"),
                    nt::subject.eq("Reset {{ tenant_name }}"),
                    nt::html.eq(&html),
                    nt::text.eq("{{ link }}"),
                    nt::updated_at.eq("2026-01-01T00:00:00.000000Z"),
                ))
                .execute(c)?;
            Ok::<_, Error>(tid)
        })
        .await
        .unwrap();
    let r = app
        .client
        .post(format!("{}/forgot", base(&app, &t)))
        .form(&[("email", "eve@example.test")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .post(format!("{}/admin/v1/tenants/{}/invites", app.url, t.slug))
        .bearer_auth(&ops)
        .json(&json!({"email": "after@example.test", "send_email": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "other writes go on");
    let subjects: Vec<String> = app
        .state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use muster::db::schema::notifications as n;
            n::table
                .filter(n::tenant_id.eq(&tid))
                .filter(n::kind.eq("password_reset"))
                .select(n::subject)
                .load(c)
                .map_err(Error::from)
        })
        .await
        .unwrap();
    assert_eq!(subjects, vec![format!("Reset your {} password", t.slug)]);
}

async fn without_smtp_emails_land_in_the_outbox_folder(backend: Backend) {
    // Its own database: on a shared one, another app's worker could deliver the email into
    // that app's folder.
    let Some(app) = TestApp::start_with(backend, true, |_| {}).await else {
        return;
    };
    let t = app.tenant_with_mode(Mode::Invite).await;
    let i = invite(&app, &t, "eve@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let file = app
        .dir
        .path()
        .join("outbox")
        .join(format!("{}.eml", i.email_id.unwrap()));
    for _ in 0..100 {
        if file.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let eml = std::fs::read_to_string(&file).expect("the .eml file");
    assert!(eml.contains("To: eve@example.test"), "{eml}");
    assert!(eml.contains("Subject: You are invited to"), "{eml}");
    // It holds a live link: muster's user alone may read it.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}

/// The outbox row of the one email of an app, with its body.
async fn outbox_body(app: &TestApp) -> (String, Option<String>, String, String) {
    app.state
        .db
        .run(|c| {
            use diesel::prelude::*;
            use muster::db::schema::notifications as n;
            n::table
                .select((n::status, n::last_error, n::html, n::text))
                .first(c)
                .map_err(Error::from)
        })
        .await
        .unwrap()
}

/// An email that cannot go out before its link expires is given up, and the link leaves the
/// database with it; so does one the server refuses for good.
async fn undelivered_emails_keep_no_live_links(backend: Backend) {
    // Nothing listens there: every attempt fails and is retried.
    let down = "smtp://127.0.0.1:9?tls=none".to_owned();
    let Some(app) = TestApp::start_with(backend, true, move |c| c.smtp_url = Some(down)).await
    else {
        return;
    };
    let t = app.tenant_with_mode(Mode::Invite).await;
    let i = invite(&app, &t, "hal@example.test", Duration::seconds(2))
        .await
        .unwrap();
    let token = i.link.rsplit('/').next().unwrap().to_owned();
    let (status, _, html, text) = outbox_body(&app).await;
    assert_eq!(status, "pending");
    assert!(text.contains(&token) || html.contains(&token));
    for _ in 0..100 {
        if outbox_body(&app).await.0 == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, error, html, text) = outbox_body(&app).await;
    assert_eq!(status, "failed");
    assert!(error.unwrap_or_default().contains("expired"));
    assert_eq!((html.as_str(), text.as_str()), ("", ""));
    drop(app);

    let smtp = peers::smtp_rejecting(&["gone@example.test"]);
    let url = smtp.url.clone();
    let Some(app) = TestApp::start_with(backend, true, move |c| c.smtp_url = Some(url)).await
    else {
        return;
    };
    let t = app.tenant_with_mode(Mode::Invite).await;
    invite(&app, &t, "gone@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let (status, _, error) = tried(&app).await;
    assert_eq!(status, "failed", "{error:?}");
    assert!(error.unwrap_or_default().contains("550"));
    let (_, _, html, text) = outbox_body(&app).await;
    assert_eq!((html.as_str(), text.as_str()), ("", ""));
}

async fn admin_delete_waits_for_group_removal(app: TestApp) {
    let t = app.tenant().await;
    let id = t.user("fay@example.test", json!({})).await;
    let g = t
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "auditors", "members": [{"value": id}]}),
        )
        .await;
    assert_eq!(g.status, 201);
    let (slug, uid) = (t.slug.clone(), id.clone());
    let err = app
        .state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            users::delete(c, &tid, &uid.as_str().into())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    assert!(err.to_string().contains("auditors"), "{err}");
    assert_eq!(t.get(&format!("/Users/{id}")).await.status, 200);
    // The IdP, the source of truth, deletes regardless.
    let r = t
        .send(t.req(reqwest::Method::DELETE, &format!("/Users/{id}")))
        .await;
    assert_eq!(r.status, 204);
    let members = t
        .get(&format!("/Groups/{}", g.body["id"].as_str().unwrap()))
        .await;
    assert!(members
        .body
        .get("members")
        .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)));
    // The store's refusals keep their meaning: a user that is gone is not found (404 on
    // the admin API), not an invalid request.
    let (slug, uid) = (t.slug.clone(), id.clone());
    let gone = app
        .state
        .db
        .run(move |c| {
            let tid = muster::tenants::by_slug(c, &slug.as_str().into())?.id;
            users::set_active(c, &tid, &uid.as_str().into(), true)
        })
        .await
        .unwrap_err();
    assert!(matches!(gone, Error::NotFound(_)), "{gone:?}");
}

async fn sso_follows_the_mode_and_accepts_invitations(app: TestApp) {
    let s = crate::sso::setup(app, Mode::Invite).await;
    // Invite mode: nobody gets in uninvited, even with a valid IdP login.
    let mut agent = Agent::new();
    let page = s.sign_in(&mut agent, "bob").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("not provisioned"), "{}", page.body);
    assert!(s.tenant.user_ids(r#"userName sw "bob""#).await.is_empty());

    // An invitation accepted at the IdP: the IdP vouches for the invited address.
    let i = invite(&s.app, &s.tenant, "alice@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let token = i.link.rsplit('/').next().unwrap().to_owned();
    // Someone whose IdP account does not verify that address cannot take the invitation.
    let mut mallory = Agent::new();
    let cb = s
        .to_callback(&mut mallory, "mallory", &format!("?invite={token}"))
        .await;
    let page = mallory.get(&cb).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body.contains("does not match the invitation"),
        "{}",
        page.body
    );
    let mut alice = Agent::new();
    let cb = s
        .to_callback(&mut alice, "alice", &format!("?invite={token}"))
        .await;
    // Meanwhile the database holds the sign-in sealed under a key from the browser's cookie:
    // neither the invitation nor the PKCE verifier can be read out of it.
    let stored: Vec<String> = s
        .app
        .state
        .db
        .run(|c| {
            use diesel::prelude::*;
            use muster::db::schema::login_flows;
            login_flows::table
                .select(login_flows::secrets)
                .load::<String>(c)
                .map_err(muster::error::Error::from)
        })
        .await
        .unwrap();
    assert!(!stored.is_empty());
    for secrets in stored {
        assert!(secrets.starts_with("sealed:v1:"), "{secrets}");
        assert!(
            !secrets.contains(&token) && !secrets.contains("pkce"),
            "{secrets}"
        );
    }
    let done = alice.get(&cb).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let ids = s
        .tenant
        .user_ids(r#"userName eq "alice@example.test""#)
        .await;
    assert_eq!(ids.len(), 1, "the invited user, not a new one");
    assert_eq!(
        s.tenant.get(&format!("/Users/{}", ids[0])).await.body["active"],
        true
    );
    assert_eq!(Agent::new().get(&i.link).await.status, 410);
    // From now on a plain IdP sign-in finds the linked user.
    let mut later = Agent::new();
    assert_eq!(s.sign_in(&mut later, "alice").await.status, 303);

    // Invited, then signing in at the IdP without the link: the verified address accepts.
    let b = invite(&s.app, &s.tenant, "bob@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let mut bob = Agent::new();
    let done = s.sign_in(&mut bob, "bob").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(Agent::new().get(&b.link).await.status, 410);
    // An unverified address accepts nothing.
    invite(
        &s.app,
        &s.tenant,
        "noverify@example.test",
        invites::LIFETIME,
    )
    .await
    .unwrap();
    let page = s.sign_in(&mut Agent::new(), "noverify").await;
    assert_eq!(page.status, 403, "{}", page.body);
}

crate::on_both_backends!(
    sso_follows_the_mode_and_accepts_invitations,
    scim_writes_follow_the_mode,
    throttling_and_no_enumeration,
    dead_links_say_what_happened,
    admin_delete_waits_for_group_removal,
    a_looping_template_is_refused_and_stalls_nothing,
);

/// The outbox row of the one email of an app: (status, attempts, last error).
async fn outbox_state(app: &TestApp) -> (String, i32, Option<String>) {
    app.state
        .db
        .run(|c| {
            use diesel::prelude::*;
            use muster::db::schema::notifications as n;
            n::table
                .select((n::status, n::attempts, n::last_error))
                .first(c)
                .map_err(Error::from)
        })
        .await
        .unwrap()
}

/// Waits until the email was tried at least once, and returns its outbox state.
async fn tried(app: &TestApp) -> (String, i32, Option<String>) {
    for _ in 0..300 {
        let state = outbox_state(app).await;
        if state.1 > 0 && (state.0 != "pending" || state.2.is_some()) {
            return state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the email was never tried: {:?}", outbox_state(app).await);
}

/// `smtp://` with a user and password: STARTTLS first, then AUTH, then the email, all over TLS.
async fn smtp_upgrades_with_starttls(backend: Backend) {
    let smtp = peers::smtp_tls(Some(("muster", "s3cret pass")));
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), smtp.certificate().await).unwrap();
    let url = smtp.url.replace("smtp://", "smtp://muster:s3cret%20pass@");
    let ca_path = ca.path().to_owned();
    let Some(app) = TestApp::start_with(backend, true, move |c| {
        c.smtp_url = Some(url);
        c.smtp_ca_file = Some(ca_path);
    })
    .await
    else {
        return;
    };
    let t = app.tenant_with_mode(Mode::Invite).await;
    invite(&app, &t, "gus@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail[0]["rcpt_tos"], json!(["gus@example.test"]));
    assert_eq!(
        mail[0]["tls"], true,
        "the email crossed the network encrypted"
    );
}

/// A server that offers no STARTTLS gets neither the password nor the email from `smtp://`;
/// nor does one whose certificate is not trusted. `?tls=none` says plain SMTP is meant.
async fn smtp_never_sends_in_the_clear_unless_told(backend: Backend) {
    let plain = peers::smtp_with(Some(("muster", "s3cret pass")));
    let url = plain
        .url
        .replace("smtp://", "smtp://muster:s3cret%20pass@")
        .replace("?tls=none", "");
    let Some(app) = TestApp::start_with(backend, true, move |c| c.smtp_url = Some(url)).await
    else {
        return;
    };
    let t = app.tenant_with_mode(Mode::Invite).await;
    invite(&app, &t, "gus@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let (status, _, error) = tried(&app).await;
    assert_eq!(status, "pending", "kept to try again: {error:?}");
    assert!(
        error.as_deref().unwrap_or_default().contains("STARTTLS"),
        "{error:?}"
    );
    assert!(plain.messages().await.is_empty());
    drop(app);

    // A certificate nobody vouches for is no better than plain text.
    let untrusted = peers::smtp_tls(Some(("muster", "s3cret pass")));
    let url = untrusted
        .url
        .replace("smtp://", "smtp://muster:s3cret%20pass@");
    let Some(app) = TestApp::start_with(backend, true, move |c| c.smtp_url = Some(url)).await
    else {
        return;
    };
    let t = app.tenant_with_mode(Mode::Invite).await;
    invite(&app, &t, "gus@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let (status, _, error) = tried(&app).await;
    assert_eq!(status, "pending");
    assert!(
        error.as_deref().unwrap_or_default().contains("certificate"),
        "{error:?}"
    );
    assert!(untrusted.messages().await.is_empty());
    drop(app);

    // Said out loud, plain SMTP with AUTH works (a relay on the same host).
    let url = plain.url.replace("smtp://", "smtp://muster:s3cret%20pass@");
    let Some(app) = TestApp::start_with(backend, true, move |c| c.smtp_url = Some(url)).await
    else {
        return;
    };
    let t = app.tenant_with_mode(Mode::Invite).await;
    invite(&app, &t, "ida@example.test", invites::LIFETIME)
        .await
        .unwrap();
    let mail = plain.wait_for(1).await;
    assert_eq!(mail[0]["rcpt_tos"], json!(["ida@example.test"]));
    assert_eq!(mail[0]["tls"], false);
}

mod with_smtp {
    use super::*;

    #[actix_web::test]
    async fn sqlite_invite_email_browser_password_and_deactivation() {
        invite_email_browser_password_and_deactivation(Backend::Sqlite).await;
    }
    #[actix_web::test]
    async fn postgres_invite_email_browser_password_and_deactivation() {
        invite_email_browser_password_and_deactivation(Backend::Postgres).await;
    }
    #[actix_web::test]
    async fn sqlite_smtp_outage_delays_but_loses_no_email() {
        smtp_outage_delays_but_loses_no_email(Backend::Sqlite).await;
    }
    #[actix_web::test]
    async fn postgres_smtp_outage_delays_but_loses_no_email() {
        smtp_outage_delays_but_loses_no_email(Backend::Postgres).await;
    }
    #[actix_web::test]
    async fn sqlite_smtp_upgrades_with_starttls() {
        smtp_upgrades_with_starttls(Backend::Sqlite).await;
    }
    #[actix_web::test]
    async fn postgres_smtp_upgrades_with_starttls() {
        smtp_upgrades_with_starttls(Backend::Postgres).await;
    }
    #[actix_web::test]
    async fn sqlite_smtp_never_sends_in_the_clear_unless_told() {
        smtp_never_sends_in_the_clear_unless_told(Backend::Sqlite).await;
    }
    #[actix_web::test]
    async fn postgres_smtp_never_sends_in_the_clear_unless_told() {
        smtp_never_sends_in_the_clear_unless_told(Backend::Postgres).await;
    }
    #[actix_web::test]
    async fn sqlite_without_smtp_emails_land_in_the_outbox_folder() {
        without_smtp_emails_land_in_the_outbox_folder(Backend::Sqlite).await;
    }
    #[actix_web::test]
    async fn postgres_without_smtp_emails_land_in_the_outbox_folder() {
        without_smtp_emails_land_in_the_outbox_folder(Backend::Postgres).await;
    }
    #[actix_web::test]
    async fn sqlite_undelivered_emails_keep_no_live_links() {
        undelivered_emails_keep_no_live_links(Backend::Sqlite).await;
    }
    #[actix_web::test]
    async fn postgres_undelivered_emails_keep_no_live_links() {
        undelivered_emails_keep_no_live_links(Backend::Postgres).await;
    }
    #[actix_web::test]
    async fn sqlite_templates_are_checked_and_used() {
        templates_are_checked_and_used(Backend::Sqlite).await;
    }
    #[actix_web::test]
    async fn postgres_templates_are_checked_and_used() {
        templates_are_checked_and_used(Backend::Postgres).await;
    }
}
