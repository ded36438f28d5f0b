//! The activity log's middlewares: every SCIM request of a tenant, and the sign-ins and
//! account forms of its pages, become entries once they are answered. Handlers and errors add
//! what only they know through request extensions (`activity::{Credential, Change, Refusal,
//! Subject, ScimTypeTag}`).

use crate::activity::{clip, Change, Credential, Entry, Refusal, ScimTypeTag, Subject};
use crate::ids::TenantSlug;
use crate::scim::schema::Kind;
use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};

fn state_of(req: &HttpRequest) -> Option<AppState> {
    req.app_data::<actix_web::web::Data<AppState>>()
        .map(|s| s.get_ref().clone())
}

/// The resource type a path is about, and the id it names: `/scim/v2/t/Users/<id>`
/// (`/Users/.search` names none).
fn resource_in_path(path: &str) -> Option<(Kind, Option<String>)> {
    let mut parts = path.split('/').skip(4);
    let kind = match parts.next()? {
        "Users" => Kind::User,
        "Groups" => Kind::Group,
        _ => return None,
    };
    let id = parts
        .next()
        .filter(|s| !s.is_empty() && !s.starts_with('.'))
        .map(str::to_owned);
    Some((kind, id))
}

/// Middleware of the SCIM scope: records every request once it is answered.
///
/// # Errors
/// Those of the handler.
pub async fn scim(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = state_of(req.request()).filter(|s| s.activity.enabled()) else {
        return next.call(req).await;
    };
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let query = req.query_string().to_owned();
    let res = next.call(req).await?;
    let tenant = TenantSlug::from(path.split('/').nth(3).unwrap_or_default());
    let anonymous = res.request().extensions().get::<Credential>().is_none();
    if anonymous && !state.activity.admit_anonymous(&tenant) {
        metrics::counter!("muster_activity_dropped_total").increment(1);
        return Ok(res);
    }
    let mut e = Entry::new("scim", &tenant);
    e.status = res.status().as_u16();
    e.scim_type = res
        .response()
        .extensions()
        .get::<ScimTypeTag>()
        .map(|t| t.0.clone());
    {
        let ext = res.request().extensions();
        match ext.get::<Credential>() {
            Some(c) => {
                e.tenant_id = Some(c.tenant_id.clone());
                e.actor.clone_from(&c.name);
            }
            None => e.actor = "no valid credential".into(),
        }
        e.summary = ext.get::<Change>().map(|c| c.0.clone()).unwrap_or_default();
        e.request_id = ext.get::<crate::ops::RequestId>().map(|r| r.0.clone());
    }
    let (kind, named) = resource_in_path(&path).unzip();
    let created = || {
        res.headers()
            .get(actix_web::http::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.rsplit('/').next())
            .map(str::to_owned)
    };
    e.resource_id = named.flatten().or_else(created);
    if kind == Some(Kind::User) {
        e.user_id.clone_from(&e.resource_id);
    }
    if e.summary.is_empty() && method == "DELETE" && e.status < 300 {
        e.summary = "deleted".into();
    }
    e.method = method;
    e.path = if query.is_empty() {
        path
    } else {
        // Filters name people (userName eq "..."): kept, for the admin who asks who looked.
        format!("{path}?{}", clip(&query, 300))
    };
    state.activity.record(e).await;
    Ok(res)
}

/// Middleware of the tenant pages: records sign-ins (password and SSO) and the account
/// forms (invitation, forgotten and new password), with the outcome. Paths are written as
/// their route pattern, so the secret in an invitation or reset link never reaches the log.
///
/// # Errors
/// Those of the handler.
pub async fn pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let pattern = req.match_pattern().unwrap_or_default();
    let post = req.method() == actix_web::http::Method::POST;
    let what = match pattern.rsplit_once("/t/{tenant}").map_or("", |(_, p)| p) {
        "/login" if post => Some(("sign-in", "password".to_owned())),
        "/sso/{idp}/callback" | "/sso/{idp}/acs" => Some((
            "sign-in",
            // The scope's own middleware runs before `{idp}` is matched: read it off the path.
            format!(
                "sso {}",
                req.path()
                    .split("/sso/")
                    .nth(1)
                    .and_then(|r| r.split('/').next())
                    .unwrap_or_default()
            ),
        )),
        "/invite/{token}" if post => Some(("account", "invitation".to_owned())),
        "/forgot" if post => Some(("account", "forgotten password".to_owned())),
        "/reset/{token}" if post => Some(("account", "password reset".to_owned())),
        _ => None,
    };
    let state = state_of(req.request()).filter(|s| s.activity.enabled());
    let (Some((kind, actor)), Some(state)) = (what, state) else {
        return next.call(req).await;
    };
    let tenant = req
        .match_info()
        .get("tenant")
        .unwrap_or_default()
        .to_owned();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let mut e = Entry::new(kind, &TenantSlug::from(tenant));
    e.actor = actor;
    e.method = method;
    e.path = pattern;
    e.status = res.status().as_u16();
    {
        let ext = res.response().extensions();
        e.user_id = ext.get::<Subject>().map(|s| s.0.clone());
        e.summary = match (ext.get::<Refusal>(), &e.user_id, e.status) {
            (Some(r), _, _) => format!("refused: {}", clip(&r.0, 300)),
            (None, Some(_), _) => "signed in".to_owned(),
            (None, None, 401) => "refused: wrong name or password".to_owned(),
            (None, None, 429) => "refused: too many attempts (throttled)".to_owned(),
            (None, None, s) if s >= 400 => "refused".to_owned(),
            (None, None, _) => "answered".to_owned(),
        };
    }
    e.request_id = res
        .request()
        .extensions()
        .get::<crate::ops::RequestId>()
        .map(|r| r.0.clone());
    state.activity.record(e).await;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_resource() {
        assert_eq!(
            resource_in_path("/scim/v2/acme/Users/u1"),
            Some((Kind::User, Some("u1".to_owned())))
        );
        assert_eq!(
            resource_in_path("/scim/v2/acme/Groups"),
            Some((Kind::Group, None))
        );
        assert_eq!(
            resource_in_path("/scim/v2/acme/Users/.search"),
            Some((Kind::User, None))
        );
        assert_eq!(resource_in_path("/scim/v2/acme/Schemas/x"), None);
    }
}
