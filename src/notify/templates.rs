//! NotificationTemplates: per tenant and kind, a subject, an HTML body and a text body. The
//! defaults ship in `templates/email/`; a tenant's override is kept in the database. Rendering
//! is sandboxed (minijinja reaches no files and no code) and strict: an unknown variable is an
//! error, so a template is test-rendered when saved and refused with the failing line.

use super::{Kind, Rendered};
use crate::db::schema::notification_templates as t;
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::TenantId;
use diesel::prelude::*;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{json, Value};

/// The three parts of a template, as sources.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// The shipped template of a kind.
pub fn default(kind: Kind) -> Template {
    let (subject, html, text) = match kind {
        Kind::Invite => (
            include_str!("../../templates/email/invite.subject"),
            include_str!("../../templates/email/invite.html"),
            include_str!("../../templates/email/invite.txt"),
        ),
        Kind::PasswordReset => (
            include_str!("../../templates/email/password_reset.subject"),
            include_str!("../../templates/email/password_reset.html"),
            include_str!("../../templates/email/password_reset.txt"),
        ),
    };
    Template {
        subject: subject.to_owned(),
        html: html.to_owned(),
        text: text.to_owned(),
    }
}

/// Values for a test render: every variable a real email gets.
pub fn sample() -> Value {
    json!({
        "tenant_name": "Acme",
        "link": "https://muster.example/t/acme/invite/sample",
        "expires_at": "2026-11-30 14:00 UTC",
        "email": "ada@example.com",
        "user_name": "ada@example.com",
    })
}

/// Renders a template with `values`. The error names the part and line that failed.
///
/// # Errors
/// A template that does not compile or render.
pub fn render(tpl: &Template, values: &Value) -> Result<Rendered, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    let part = |env: &mut Environment, name: &'static str, src: &str| -> Result<String, String> {
        let explain = |e: minijinja::Error| {
            let line = e
                .line()
                .map(|l| format!(" at line {l}"))
                .unwrap_or_default();
            let what = e
                .detail()
                .map_or_else(|| e.kind().to_string(), str::to_owned);
            let part = if name.ends_with(".html") {
                "HTML"
            } else {
                name
            };
            format!("the {part} template does not render{line}: {what}")
        };
        env.add_template_owned(name, src.to_owned())
            .map_err(explain)?;
        env.get_template(name)
            .and_then(|t| t.render(values))
            .map_err(explain)
    };
    let subject = part(&mut env, "subject", &tpl.subject)?;
    // A subject is one line: a newline in it would start a header.
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    if subject.is_empty() {
        return Err("the subject template renders to nothing".into());
    }
    Ok(Rendered {
        subject,
        html: part(&mut env, "body.html", &tpl.html)?,
        text: part(&mut env, "text", &tpl.text)?,
    })
}

/// Test-renders one part (`subject`, `html` or `text`) alone, so a refusal can name it.
///
/// # Errors
/// The part does not render, with its line.
pub fn check_part(part: &str, src: &str) -> Result<(), String> {
    let pick = |name: &str| {
        if name == part {
            src.to_owned()
        } else {
            "-".to_owned()
        }
    };
    render(
        &Template {
            subject: pick("subject"),
            html: pick("html"),
            text: pick("text"),
        },
        &sample(),
    )
    .map(|_| ())
}

/// The template a tenant uses for a kind, and whether it is the tenant's own.
///
/// # Errors
/// Database errors.
pub fn current(c: &mut DbConn, tenant: &TenantId, kind: Kind) -> Result<(Template, bool), Error> {
    let own: Option<(String, String, String)> = t::table
        .find((tenant, kind.name()))
        .select((t::subject, t::html, t::text))
        .first(c)
        .optional()?;
    Ok(match own {
        Some((subject, html, text)) => (
            Template {
                subject,
                html,
                text,
            },
            true,
        ),
        None => (default(kind), false),
    })
}

/// Renders the tenant's template of a kind.
///
/// # Errors
/// Database errors; a stored template that no longer renders (it was checked when saved).
pub fn render_for(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    values: &Value,
) -> Result<Rendered, Error> {
    let (tpl, _) = current(c, tenant, kind)?;
    render(&tpl, values).map_err(Error::invalid)
}

/// What an admin changes in a template; unset parts keep their current source.
#[derive(Debug, Default)]
pub struct Change {
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
}

/// Saves a tenant's override after a test render with every variable.
///
/// # Errors
/// A template that does not render (with its line).
pub fn set(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    change: Change,
) -> Result<Template, Error> {
    let (mut tpl, _) = current(c, tenant, kind)?;
    if let Some(s) = change.subject {
        tpl.subject = s;
    }
    if let Some(h) = change.html {
        tpl.html = h;
    }
    if let Some(x) = change.text {
        tpl.text = x;
    }
    render(&tpl, &sample()).map_err(Error::invalid)?;
    crate::db::write_tx(c, |c| {
        diesel::delete(t::table.find((tenant, kind.name()))).execute(c)?;
        diesel::insert_into(t::table)
            .values((
                t::tenant_id.eq(tenant),
                t::kind.eq(kind.name()),
                t::subject.eq(&tpl.subject),
                t::html.eq(&tpl.html),
                t::text.eq(&tpl.text),
                t::updated_at.eq(now()),
            ))
            .execute(c)?;
        Ok::<_, Error>(())
    })?;
    Ok(tpl)
}

/// Goes back to the shipped template.
///
/// # Errors
/// Database errors.
pub fn reset(c: &mut DbConn, tenant: &TenantId, kind: Kind) -> Result<(), Error> {
    diesel::delete(t::table.find((tenant, kind.name()))).execute(c)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_render_and_html_is_escaped() {
        for kind in Kind::ALL {
            let r = render(&default(kind), &sample()).unwrap();
            assert!(
                r.text
                    .contains("https://muster.example/t/acme/invite/sample"),
                "{kind}"
            );
            assert!(
                r.subject.contains("Acme") && !r.subject.contains('\n'),
                "{kind}"
            );
        }
        let mut v = sample();
        v["tenant_name"] = json!("<script>x</script>");
        let r = render(&default(Kind::Invite), &v).unwrap();
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.text.contains("<script>"), "the text body is not HTML");
    }

    #[test]
    fn a_broken_template_names_its_line() {
        let mut tpl = default(Kind::Invite);
        tpl.html = "<p>ok</p>\n<p>{{ tenant_nme }}</p>".into();
        let e = render(&tpl, &sample()).unwrap_err();
        assert!(e.contains("line 2") && e.contains("HTML"), "{e}");
        tpl.html = "<p>{% if %}</p>".into();
        let e = render(&tpl, &sample()).unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }
}
