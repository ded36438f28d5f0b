//! A sign-in between leaving for the IdP and coming back. What must be checked on return
//! (OIDC state, nonce and PKCE verifier; the SAML request id; the invitation it accepts) is
//! kept in the database, keyed by the hash of a random value in a cookie scoped to the
//! provider's path and sealed with a key derived from that value: the browser that started
//! the sign-in is the only one that can finish it, once, within ten minutes, and the database
//! alone holds none of its secrets.

use crate::auth::secret;
use crate::db::schema::login_flows;
use crate::db::time::format_time;
use crate::db::DbConn;
use crate::error::Error;
use crate::ids::TenantId;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// The cookie that ties a browser to its sign-in in progress.
pub const COOKIE: &str = "muster_login";

/// How long a person may spend at the IdP.
pub const LIFETIME: Duration = Duration::minutes(10);

/// What is checked when the IdP sends the person back.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Secrets {
    /// OIDC `state`, or the SAML RelayState.
    pub state: String,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub pkce_verifier: Option<String>,
    /// The SAML AuthnRequest id the response must answer.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The invitation token this sign-in accepts, if it started on an invitation page.
    #[serde(default)]
    pub invite: Option<String>,
}

/// What a flow's secrets are sealed for.
const SEALED_FOR: &str = "login_flows.secrets";

/// The key of a flow's secrets: from the cookie value, which the database keeps only hashed.
fn sealing_key(cookie: &str) -> crate::vault::Key {
    crate::vault::Key::derive(SEALED_FOR, cookie)
}

/// A sign-in in progress.
#[derive(Debug, Clone)]
pub struct Flow {
    pub tenant_id: TenantId,
    pub idp_id: String,
    pub secrets: Secrets,
    pub return_to: Option<String>,
}

/// Records a flow and returns the cookie value.
///
/// # Errors
/// Database errors.
pub fn start(c: &mut DbConn, flow: &Flow) -> Result<String, Error> {
    let id = secret::generate("msf_");
    let now = OffsetDateTime::now_utc();
    // Old flows are dead weight; sweep a few on the way.
    diesel::delete(login_flows::table.filter(login_flows::expires_at.lt(format_time(now))))
        .execute(c)?;
    let secrets = serde_json::to_string(&flow.secrets).map_err(Error::internal)?;
    let secrets = sealing_key(&id).seal(SEALED_FOR, &secrets)?;
    diesel::insert_into(login_flows::table)
        .values((
            login_flows::id_hash.eq(secret::hash(&id)),
            login_flows::tenant_id.eq(&flow.tenant_id),
            login_flows::idp_id.eq(&flow.idp_id),
            login_flows::secrets.eq(secrets),
            login_flows::return_to.eq(&flow.return_to),
            login_flows::expires_at.eq(format_time(now + LIFETIME)),
        ))
        .execute(c)?;
    Ok(id)
}

/// Takes the flow behind a cookie value: it is deleted whatever happens next, so a response
/// cannot be played into it twice. `None` when unknown, expired, or another provider's.
///
/// # Errors
/// Database errors.
pub fn take(c: &mut DbConn, id: &str, idp_id: &str) -> Result<Option<Flow>, Error> {
    let hash = secret::hash(id);
    let row: Option<(TenantId, String, String, Option<String>, String)> = login_flows::table
        .find(&hash)
        .select((
            login_flows::tenant_id,
            login_flows::idp_id,
            login_flows::secrets,
            login_flows::return_to,
            login_flows::expires_at,
        ))
        .first(c)
        .optional()?;
    let Some((tenant_id, flow_idp, secrets, return_to, expires_at)) = row else {
        return Ok(None);
    };
    // Single use: whoever deletes the row owns the flow (two racing requests: one wins).
    let deleted = diesel::delete(login_flows::table.find(&hash)).execute(c)?;
    let live = expires_at > format_time(OffsetDateTime::now_utc());
    if deleted == 0 || !live || flow_idp != idp_id {
        return Ok(None);
    }
    let Some(secrets) = sealing_key(id).open(SEALED_FOR, &secrets) else {
        return Ok(None);
    };
    let Ok(secrets) = serde_json::from_str(&secrets) else {
        return Ok(None);
    };
    Ok(Some(Flow {
        tenant_id,
        idp_id: flow_idp,
        secrets,
        return_to,
    }))
}
