//! Metrics: the process's Prometheus recorder and the counters features record (sign-ins,
//! emails, SCIM operations), and the id every request carries. The endpoints that serve them
//! are `http::ops`.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// The request id header, read and written.
pub const REQUEST_ID: &str = "x-request-id";

/// The process's metrics recorder (one per process, whatever the number of servers).
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics are off"))
                .ok()
        })
        .as_ref()
}

/// The id of the request being served (request extensions).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Counts a SCIM operation of a tenant: `operation` is create, get, list, replace, patch,
/// delete; `resource` User or Group.
pub fn scim_operation(
    tenant: &crate::ids::TenantSlug,
    operation: &'static str,
    resource: &'static str,
) {
    metrics::counter!(
        "muster_scim_operations_total",
        "tenant" => tenant.to_string(),
        "operation" => operation,
        "resource" => resource
    )
    .increment(1);
}

/// Counts a sign-in attempt: `method` oidc, saml or password; `outcome` success or why not.
pub fn login(method: &'static str, outcome: &'static str) {
    metrics::counter!("muster_logins_total", "method" => method, "outcome" => outcome).increment(1);
}

/// Counts an email event: queued, sent, retried or failed.
pub fn email(event: &'static str) {
    metrics::counter!("muster_emails_total", "event" => event).increment(1);
}
