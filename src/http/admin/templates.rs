//! A tenant's email templates (invitation, password reset): read, replace parts (each
//! test-rendered first), go back to the default.

use super::{read, write, ApiError, ApiResult, Caller};
use crate::ids::TenantSlug;
use crate::notify::templates;
use crate::state::AppState;
use actix_web::{delete, get, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_template)
        .service(set_template)
        .service(reset_template);
}

/// An email template.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateOut {
    /// `invite` or `password_reset`.
    pub kind: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// true when the tenant has its own; false for the default.
    pub custom: bool,
}

fn kind(k: &str) -> ApiResult<crate::notify::Kind> {
    k.parse()
        .map_err(|e: String| ApiError::not_found(format!("no template kind {k:?}: {e}")))
}

async fn template_out(
    state: &AppState,
    caller: &Caller,
    slug: TenantSlug,
    k: String,
) -> ApiResult<TemplateOut> {
    let which = kind(&k)?;
    let (tpl, custom) = read(state, caller, slug, move |c, t| {
        Ok(templates::current(c, &t.id, which)?)
    })
    .await?;
    Ok(TemplateOut {
        kind: k,
        subject: tpl.subject,
        html: tpl.html,
        text: tpl.text,
        custom,
    })
}

/// The template the tenant uses (its own, or the default).
#[utoipa::path(tag = "email templates", responses((status = 200, body = TemplateOut)))]
#[get("/tenants/{tenant}/templates/{kind}")]
async fn get_template(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, k) = path.into_inner();
    Ok(HttpResponse::Ok().json(template_out(&state, &caller, slug, k).await?))
}

/// Parts of a template to replace; each is test-rendered first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateChange {
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
}

/// Replace parts of the tenant's template; a part that does not render is refused, naming
/// it and its line.
#[utoipa::path(tag = "email templates", request_body = TemplateChange, responses((status = 200, body = TemplateOut), (status = 422, body = ApiError)))]
#[put("/tenants/{tenant}/templates/{kind}")]
async fn set_template(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, String)>,
    body: web::Json<TemplateChange>,
) -> ApiResult<HttpResponse> {
    let (slug, k) = path.into_inner();
    caller.admin_of(&slug)?;
    let which = kind(&k)?;
    let b = body.into_inner();
    if b.subject.is_none() && b.html.is_none() && b.text.is_none() {
        return Err(ApiError::invalid("subject", "give subject, html or text"));
    }
    // Each part alone first, so the error names the part that does not render.
    for (field, part) in [
        ("subject", &b.subject),
        ("html", &b.html),
        ("text", &b.text),
    ] {
        if let Some(p) = part {
            templates::check_part(field, p).map_err(|e| ApiError::invalid(field, e))?;
        }
    }
    let change = templates::Change {
        subject: b.subject,
        html: b.html,
        text: b.text,
    };
    // Checked against the current template on a read connection; only saving writes.
    let tpl = read(&state, &caller, slug.clone(), move |c, t| {
        let (current, _) = templates::current(c, &t.id, which)?;
        Ok(templates::changed(current, change)?)
    })
    .await?;
    write(&state, &caller, slug.clone(), move |c, t| {
        Ok(templates::save(c, &t.id, which, &tpl)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(template_out(&state, &caller, slug, k).await?))
}

/// Go back to the default template.
#[utoipa::path(tag = "email templates", responses((status = 200, body = TemplateOut)))]
#[delete("/tenants/{tenant}/templates/{kind}")]
async fn reset_template(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(TenantSlug, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, k) = path.into_inner();
    caller.admin_of(&slug)?;
    let which = kind(&k)?;
    write(&state, &caller, slug.clone(), move |c, t| {
        Ok(templates::reset(c, &t.id, which)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(template_out(&state, &caller, slug, k).await?))
}
