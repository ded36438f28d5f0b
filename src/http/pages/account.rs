//! The account page (who is signed in, through what) and logout.

use super::{respond, tenant};
use crate::http::page::{html, render, see_other, PageResult};
use crate::http::session;
use crate::ids::TenantSlug;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

/// `GET /t/{tenant}/account`.
pub(super) async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<TenantSlug>,
) -> HttpResponse {
    respond(account(&state, &req, &path).await)
}

async fn account(state: &AppState, req: &HttpRequest, slug: &TenantSlug) -> PageResult {
    let t = tenant(state, slug).await?;
    let login = format!("/t/{slug}/login");
    let Some(s) = session::current(state, req, &t).await? else {
        return Ok(see_other(&login).finish());
    };
    let (tid, user, idp) = (t.id.clone(), s.user, s.idp_id);
    let (person, idp_title) = state
        .db
        .run(move |c| -> Result<_, crate::error::Error> {
            let person = crate::people::users::person(c, &tid, &user)?;
            let title = match idp {
                Some(id) => crate::sso::idp::title(c, &id)?,
                None => None,
            };
            Ok((person, title))
        })
        .await?;
    let Some(p) = person else {
        return Ok(see_other(&login).finish());
    };
    let body = render(
        "account.html",
        json!({
            "tenant_name": t.name,
            "user_name": p.user_name,
            "display_name": p.display_name,
            "email": p.email,
            "groups": p.groups,
            "idp_title": idp_title,
            "logout": format!("/t/{slug}/logout"),
        }),
    );
    Ok(html(StatusCode::OK).body(body))
}

/// `POST /t/{tenant}/logout`.
pub(super) async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<TenantSlug>,
) -> HttpResponse {
    // Another site must not sign people out (a nuisance that can also hide a later attack).
    if let Some(refused) = super::from_another_site(&state, &req, &path) {
        return refused.response();
    }
    session::end(&state, &req, &path).await
}
