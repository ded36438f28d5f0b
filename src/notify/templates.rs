//! NotificationTemplates: per tenant and kind, a subject, an HTML body and a text body. The
//! defaults ship in `templates/email/`; a tenant's override is kept in the database.
//!
//! A template is written by a tenant admin and rendered on a server other tenants share, so
//! the language is small on purpose: variables, the filters in [`FILTERS`], `~` and
//! comparisons, and `if`/`elif`/`else`. Nothing loops, assigns or repeats a string, so a
//! render's work and size follow from the template's own size; fuel and an output cap bound
//! it again. Rendering is strict (an unknown variable is an error), so a template is
//! test-rendered when saved and refused with the failing line.

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

/// The most a part's source may hold.
pub const MAX_SOURCE: usize = 64 * 1024;
/// The most a part may render to.
pub const MAX_OUTPUT: usize = 256 * 1024;
/// Instructions a render may run; the shipped templates need a few dozen.
const FUEL: u64 = 20_000;
/// Tokens one `{{ }}` or `{% %}` may hold: the compiler recurses over an expression, and a
/// very long one would exhaust its stack.
const MAX_EXPRESSION: usize = 64;
/// The statements a template may use.
const STATEMENTS: [&str; 4] = ["if", "elif", "else", "endif"];
/// The filters a template may use: none makes a value more than a few times longer.
pub const FILTERS: [&str; 8] = [
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "default",
    "d",
    "length",
];

fn environment() -> Environment<'static> {
    use minijinja::{filters, tests};
    let mut env = Environment::empty();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(minijinja::escape_formatter);
    env.add_filter("upper", filters::upper);
    env.add_filter("lower", filters::lower);
    env.add_filter("title", filters::title);
    env.add_filter("capitalize", filters::capitalize);
    env.add_filter("trim", filters::trim);
    env.add_filter("default", filters::default);
    env.add_filter("d", filters::default);
    env.add_filter("length", filters::length);
    env.add_test("defined", tests::is_defined);
    env.add_test("none", tests::is_none);
    env
}

/// Refuses what the template language leaves out, naming the line.
fn check_language(src: &str) -> Result<(), (Option<u16>, String)> {
    use minijinja::machinery::{tokenize, Token, WhitespaceConfig};
    if src.len() > MAX_SOURCE {
        return Err((None, format!("it is longer than {} KiB", MAX_SOURCE / 1024)));
    }
    let mut statement_next = false;
    let mut parts = 0;
    for item in tokenize(src, false, Default::default(), WhitespaceConfig::default()) {
        // Syntax errors are left to the compiler, which explains them better.
        let Ok((token, span)) = item else {
            return Ok(());
        };
        let refuse = |what: String| Err((Some(span.start_line), what));
        parts += 1;
        match token {
            Token::TemplateData(_) | Token::VariableStart | Token::BlockStart => parts = 0,
            _ if parts > MAX_EXPRESSION => {
                return refuse(format!(
                    "an expression may have at most {MAX_EXPRESSION} parts; split it"
                ))
            }
            _ => {}
        }
        match token {
            Token::BlockStart => statement_next = true,
            Token::Ident(word) if statement_next => {
                statement_next = false;
                if !STATEMENTS.contains(&word) {
                    return refuse(format!(
                        "{{% {word} %}} is not available; templates use {{% if %}}, \
                         {{% elif %}}, {{% else %}} and {{% endif %}}"
                    ));
                }
            }
            Token::TemplateData(_)
            | Token::VariableStart
            | Token::VariableEnd
            | Token::BlockEnd
            | Token::Ident(_)
            | Token::Str(_)
            | Token::String(_)
            | Token::Int(_)
            | Token::Pipe
            | Token::Tilde
            | Token::Comma
            | Token::ParenOpen
            | Token::ParenClose
            | Token::Eq
            | Token::Ne
            | Token::Gt
            | Token::Gte
            | Token::Lt
            | Token::Lte => statement_next = false,
            other => {
                return refuse(format!(
                    "{other} is not available; templates use variables, filters, ~ and \
                     comparisons"
                ))
            }
        }
    }
    Ok(())
}

/// Where a render writes: refuses to grow past [`MAX_OUTPUT`].
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_OUTPUT {
            return Err(std::io::Error::other("too long"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders a template with `values`. The error names the part and line that failed.
///
/// # Errors
/// A template that uses what the language leaves out, does not compile, runs out of fuel,
/// or renders too much.
pub fn render(tpl: &Template, values: &Value) -> Result<Rendered, String> {
    let mut env = environment();
    let part = |env: &mut Environment, name: &'static str, src: &str| -> Result<String, String> {
        let label = if name.ends_with(".html") {
            "HTML"
        } else {
            name
        };
        let fail = |line: Option<usize>, what: String| {
            let line = line.map(|l| format!(" at line {l}")).unwrap_or_default();
            format!("the {label} template does not render{line}: {what}")
        };
        check_language(src).map_err(|(line, what)| fail(line.map(usize::from), what))?;
        let explain = |e: minijinja::Error| {
            let what = match e.kind() {
                minijinja::ErrorKind::OutOfFuel => "it does too much work".to_owned(),
                minijinja::ErrorKind::WriteFailure => {
                    format!("it renders to more than {} KiB", MAX_OUTPUT / 1024)
                }
                kind => e.detail().map_or_else(|| kind.to_string(), str::to_owned),
            };
            fail(e.line(), what)
        };
        env.add_template_owned(name, src.to_owned())
            .map_err(explain)?;
        let mut out = Capped(Vec::new());
        env.get_template(name)
            .and_then(|t| t.render_captured_to(values, &mut out).map(|_| ()))
            .map_err(explain)?;
        String::from_utf8(out.0).map_err(|_| fail(None, "it is not UTF-8".into()))
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

/// Renders the tenant's template of a kind. An override that no longer renders (one saved
/// before today's rules) gives way to the shipped template, so the email still goes out.
///
/// # Errors
/// Database errors.
pub fn render_for(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    values: &Value,
) -> Result<Rendered, Error> {
    let (tpl, own) = current(c, tenant, kind)?;
    match render(&tpl, values) {
        Ok(r) => Ok(r),
        Err(why) if own => {
            tracing::warn!(tenant = %tenant, kind = kind.name(), error = %why,
                "the tenant's email template does not render; the default is used");
            render(&default(kind), values).map_err(Error::invalid)
        }
        Err(why) => Err(Error::invalid(why)),
    }
}

/// What an admin changes in a template; unset parts keep their current source.
#[derive(Debug, Default)]
pub struct Change {
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
}

/// The template with `change` applied, after a test render with every variable.
///
/// # Errors
/// A template that does not render (with its part and line).
pub fn changed(mut tpl: Template, change: Change) -> Result<Template, Error> {
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
    Ok(tpl)
}

/// Stores a tenant's override (checked with [`changed`]).
///
/// # Errors
/// Database errors.
pub fn save(c: &mut DbConn, tenant: &TenantId, kind: Kind, tpl: &Template) -> Result<(), Error> {
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
        Ok(())
    })
}

/// Changes and saves a tenant's override on one connection (the CLI's way).
///
/// # Errors
/// A template that does not render (with its line); database errors.
pub fn set(
    c: &mut DbConn,
    tenant: &TenantId,
    kind: Kind,
    change: Change,
) -> Result<Template, Error> {
    let tpl = changed(current(c, tenant, kind)?.0, change)?;
    save(c, tenant, kind, &tpl)?;
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

    #[test]
    fn what_could_loop_or_grow_is_refused_with_its_line() {
        let refused = |html: &str| {
            let mut tpl = default(Kind::Invite);
            tpl.html = html.into();
            render(&tpl, &sample()).unwrap_err()
        };
        for (src, says) in [
            (
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
                "{% for %}",
            ),
            ("{% set a = link %}{% set a = a ~ a %}{{ a }}", "{% set %}"),
            ("{% macro m() %}{% endmacro %}", "{% macro %}"),
            ("ok\n{{ link * 100000000 }}", "line 2"),
            ("{{ link|replace('h', link) }}", "replace is unknown"),
            ("{{ range(10) }}", "unknown"),
            ("{{ link.__class__ }}", "."),
        ] {
            let e = refused(src);
            assert!(e.contains(says), "{src}: {e}");
        }
        assert!(refused(&"x".repeat(MAX_SOURCE + 1)).contains("longer than"));
        // A long expression would overflow the compiler's stack.
        let deep = format!("{{{{ email{} }}}}", "|d".repeat(20_000));
        assert!(
            refused(&deep).contains("at most 64 parts"),
            "{}",
            refused(&deep)
        );
        let deep = format!("{{{{ {}email }}}}", "(".repeat(20_000));
        assert!(
            refused(&deep).contains("at most 64 parts"),
            "{}",
            refused(&deep)
        );
        // Fuel: allowed constructs still stop when there is too much to do.
        let busy = format!("{{{{ email{} }}}}", "|d".repeat(30)).repeat(900);
        assert!(
            refused(&busy).contains("too much work"),
            "{}",
            refused(&busy)
        );
        // Output: a short reference to a long value, many times over.
        let long = "{{ link }}".repeat(6_500);
        assert!(
            refused(&long).contains("more than 256 KiB"),
            "{}",
            refused(&long)
        );
    }

    #[test]
    fn the_small_language_is_enough_for_an_email() {
        let mut tpl = default(Kind::Invite);
        tpl.html =
            "{% if user_name != email %}Hi {{ user_name|title }}{% else %}Hello{% endif %}, \
                    {{ tenant_name|upper ~ '!' }} {{ link|default('-') }} ({{ link|length }})"
                .into();
        let r = render(&tpl, &sample()).unwrap();
        assert!(r.html.starts_with("Hello, ACME! https:"), "{}", r.html);
    }
}
