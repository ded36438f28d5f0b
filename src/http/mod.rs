//! Everything muster says over HTTP, on top of the features: the SCIM endpoint
//! (`/scim/v2/{tenant}`), the pages people see (`/t/{tenant}/...`), the token endpoints of
//! muster as an authorization server, the admin API (`/admin/v1`) and the operator's
//! endpoints. Handlers parse, ask [`caller`] who is calling, call one feature function and
//! answer in their protocol's form; no rule lives here that a feature does not own.

pub mod activity;
pub mod address;
pub mod admin;
pub mod caller;
pub mod ops;
pub mod page;
pub mod pages;
pub mod scim;
pub mod session;
pub mod tokens;

use crate::state::AppState;
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/metrics", web::get().to(ops::metrics))
        .route("/.well-known/jwks.json", web::get().to(tokens::jwks))
        .configure(admin::routes)
        .service(scim::scope())
        .service(pages::scope());
}

/// Starts the HTTP server on an already-bound listener (tests bind port 0), and this
/// process's background tasks: the SQLite checkpointer, the email worker, the rate-count
/// sync, the activity writer and its retention.
///
/// # Errors
/// When the server cannot start on the listener.
pub fn server(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let workers = state.config.workers;
    crate::ops::recorder();
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(crate::db::checkpoint_loop(state.db.clone()));
        rt.spawn(crate::notify::outbox::worker(
            state.db.clone(),
            state.mailer.clone(),
            state.config.mail_from.clone(),
            state.email_stop.clone(),
        ));
        rt.spawn(crate::limits::sync_loop(
            state.db.clone(),
            state.limiter.clone(),
        ));
        rt.spawn(crate::activity::writer(
            state.db.clone(),
            state.activity.clone(),
        ));
        if state.activity.enabled() {
            rt.spawn(crate::activity::prune_loop(
                state.db.clone(),
                state.config.activity_retention_days,
            ));
        }
    }
    let data = web::Data::new(state);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(actix_web::middleware::from_fn(ops::observe))
            .configure(routes)
            .default_service(web::to(scim::not_found))
    })
    .workers(workers)
    .listen(listener)?
    .run())
}

/// The application state of a request (registered on every app).
///
/// # Errors
/// Never in a server built by [`server`]; a message when the state is missing.
pub fn state_of(req: &actix_web::HttpRequest) -> Result<AppState, crate::error::Error> {
    req.app_data::<web::Data<AppState>>()
        .map(|s| s.get_ref().clone())
        .ok_or_else(|| crate::error::Error::internal("application state missing"))
}

/// The request's `Origin` when it is another site's than muster's own (`public_url`). Browsers
/// send `Origin` on every cross-site POST; other clients may omit it, and are not refused.
pub fn foreign_origin(req: &actix_web::HttpRequest, public_url: &str) -> Option<String> {
    let origin = req
        .headers()
        .get(actix_web::http::header::ORIGIN)?
        .to_str()
        .unwrap_or_default();
    let ours = url::Url::parse(public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    (origin != ours).then(|| origin.to_owned())
}
