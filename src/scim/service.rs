//! SCIM operations on one tenant, shared by the HTTP handlers and Bulk: each does its database
//! work in one trip to the blocking pool and returns the rendered resource.

use super::error::{ScimError, ScimResult, ScimType};
use super::filter::parse_filter;
use super::patch;
use super::resource::normalize;
use super::response::{render, Meta, Projection};
use super::schema::Kind;
use super::store::{self, Key, ListQuery, Password, Precondition, Stored};
use crate::auth::password::Hasher;
use crate::db::time::now;
use crate::db::{Db, DbConn};
use crate::ids::{TenantId, TenantSlug};
use crate::tenants::Mode;
use serde_json::{json, Value};

/// Largest page served, whatever `count` asks for (advertised as `filter.maxResults`).
pub const MAX_RESULTS: i64 = 1000;
/// Page size when `count` is absent.
pub const DEFAULT_COUNT: i64 = 100;

/// The tenant a request acts on, and what acting on it takes.
#[derive(Clone)]
pub struct Ctx {
    pub db: Db,
    /// Hashes a password a write carries (bounded, off the async workers).
    pub hasher: Hasher,
    pub tenant: TenantId,
    pub slug: TenantSlug,
    /// `<public url>/scim/v2/<slug>`
    pub base: String,
    /// The tenant's provisioning mode: only `scim` takes writes.
    pub mode: Mode,
    /// The tenant lets SCIM set passwords; otherwise a password in a write is ignored.
    pub passwords: bool,
}

/// A rendered resource with what the HTTP layer puts in headers.
#[derive(Debug)]
pub struct Out {
    pub resource: Value,
    pub version: i64,
    pub location: String,
}

impl Ctx {
    /// Counts an operation of this tenant for the metrics.
    fn count(&self, operation: &'static str, kind: Kind) {
        crate::ops::scim_operation(&self.slug, operation, kind.name());
    }

    /// Refuses a write unless the tenant is provisioned over SCIM: in `jit` and `invite` mode
    /// users come from sign-ins and invitations, and an IdP's sync would fight them.
    ///
    /// # Errors
    /// 403 naming the mode.
    pub fn writable(&self) -> ScimResult<()> {
        if self.mode == Mode::Scim {
            return Ok(());
        }
        let slug = &self.slug;
        let source = match self.mode {
            Mode::Jit => "created at their first sign-in",
            _ => "invited",
        };
        Err(ScimError::status(
            403,
            format!(
                "tenant {slug} is in {} mode: its users are {source}, so SCIM writes are \
                 refused. An admin can switch it with `muster tenant set-mode {slug} scim`.",
                self.mode
            ),
        ))
    }

    /// Runs `op` (a store call given the tenant id) on the blocking pool and renders the
    /// resource it returns, in the same trip; on the writing connection when `write`.
    async fn then_render<F>(
        &self,
        write: bool,
        kind: Kind,
        proj: Projection,
        op: F,
    ) -> ScimResult<Out>
    where
        F: FnOnce(&mut DbConn, &TenantId) -> ScimResult<Stored> + Send + 'static,
    {
        let (tenant, base) = (self.tenant.clone(), self.base.clone());
        let f = move |c: &mut DbConn| {
            let s = op(c, &tenant)?;
            render_out(c, kind, &base, &s, &proj)
        };
        if write {
            self.db.run_write(f).await
        } else {
            self.db.run(f).await
        }
    }
}

fn render_out(
    c: &mut DbConn,
    kind: Kind,
    base: &str,
    s: &Stored,
    proj: &Projection,
) -> ScimResult<Out> {
    let resource = render_page(c, kind, base, std::slice::from_ref(s), proj)?
        .pop()
        .unwrap_or_default();
    Ok(Out {
        location: format!("{base}/{}/{}", kind.endpoint(), s.id),
        resource,
        version: s.version,
    })
}

/// Renders stored resources with their projection. A Group's members or a User's groups are
/// read for all of them in one query, and only when the projection shows them.
fn render_page(
    c: &mut DbConn,
    kind: Kind,
    base: &str,
    items: &[Stored],
    proj: &Projection,
) -> ScimResult<Vec<Value>> {
    let relation = match kind {
        Kind::User => "groups",
        Kind::Group => "members",
    };
    let shown = proj.shows(relation);
    let mut related = if shown && !items.is_empty() {
        let ids: Vec<String> = items.iter().map(|s| s.id.clone()).collect();
        store::related(c, kind, &ids)?
    } else {
        Default::default()
    };
    Ok(items
        .iter()
        .map(|s| {
            let rel = related.remove(&s.id).unwrap_or_default();
            let meta = Meta {
                id: &s.id,
                created: &s.created,
                last_modified: &s.updated,
                version: s.version,
                base,
            };
            proj.apply(
                kind,
                render(kind, &s.doc, &meta, shown.then_some(rel.as_slice())),
            )
        })
        .collect())
}

/// The password a write carries, checked and hashed, when the tenant lets SCIM set passwords.
/// Otherwise it is ignored: Okta sends a placeholder password on every create, whether or not
/// password sync is on, and that must not fail the sync.
async fn password(ctx: &Ctx, password: Option<String>) -> ScimResult<Option<Password>> {
    let Some(plain) = password else {
        return Ok(None);
    };
    if !ctx.passwords {
        tracing::info!(tenant = %ctx.slug, "a SCIM write carried a password; ignored (SCIM password writes are off)");
        return Ok(None);
    }
    // The policy's checks that need no user, before the work of hashing.
    crate::auth::password::check_policy(&plain, &[])
        .map_err(|why| ScimError::bad(ScimType::InvalidValue, format!("password: {why}")))?;
    let hash = ctx
        .hasher
        .hash(plain.clone())
        .await
        .map_err(|e| ScimError::internal(&e))?;
    Ok(Some(Password { plain, hash }))
}

/// POST a resource.
///
/// # Errors
/// Validation, uniqueness and storage errors.
pub async fn create(ctx: &Ctx, kind: Kind, body: Value, proj: Projection) -> ScimResult<Out> {
    ctx.count("create", kind);
    ctx.writable()?;
    let mut incoming = normalize(kind, &body)?;
    let password = password(ctx, incoming.password.take()).await?;
    ctx.then_render(true, kind, proj, move |c, tenant| {
        store::create(c, tenant, kind, incoming, password, &now())
    })
    .await
}

/// GET one resource.
///
/// # Errors
/// 404 and storage errors.
pub async fn get(ctx: &Ctx, kind: Kind, id: String, proj: Projection) -> ScimResult<Out> {
    ctx.count("get", kind);
    ctx.then_render(false, kind, proj, move |c, tenant| {
        store::find(c, tenant, kind, &id)?.ok_or_else(|| ScimError::not_found(kind.name(), &id))
    })
    .await
}

/// PUT one resource.
///
/// # Errors
/// 404, 412, validation and uniqueness errors.
pub async fn replace(
    ctx: &Ctx,
    kind: Kind,
    id: String,
    body: Value,
    pre: Precondition,
    proj: Projection,
) -> ScimResult<Out> {
    ctx.count("replace", kind);
    ctx.writable()?;
    let mut incoming = normalize(kind, &body)?;
    let password = password(ctx, incoming.password.take()).await?;
    ctx.then_render(true, kind, proj, move |c, tenant| {
        let key = Key {
            tenant,
            kind,
            id: &id,
        };
        store::replace(c, key, incoming, password, &pre, &now())
    })
    .await
}

/// PATCH one resource.
///
/// # Errors
/// PATCH, 404, 412 and uniqueness errors.
pub async fn patch(
    ctx: &Ctx,
    kind: Kind,
    id: String,
    body: Value,
    pre: Precondition,
    proj: Projection,
) -> ScimResult<Out> {
    ctx.count("patch", kind);
    ctx.writable()?;
    let ops = patch::parse_ops(&body)?;
    // Hash a new password before the transaction: argon2 must not hold the write lock. The
    // document itself is patched inside the transaction, against the locked row.
    let password = match kind {
        Kind::User => password(ctx, patch::password_of(kind, &ops)).await?,
        Kind::Group => None,
    };
    ctx.then_render(true, kind, proj, move |c, tenant| {
        let key = Key {
            tenant,
            kind,
            id: &id,
        };
        store::patch(c, key, &ops, password, &pre, &now())
    })
    .await
}

/// DELETE one resource.
///
/// # Errors
/// 404, 412.
pub async fn delete(ctx: &Ctx, kind: Kind, id: String, pre: Precondition) -> ScimResult<()> {
    ctx.count("delete", kind);
    ctx.writable()?;
    let tenant = ctx.tenant.clone();
    ctx.db
        .run_write(move |c| store::delete(c, &tenant, kind, &id, &pre))
        .await
}

/// List parameters as received (query string or SearchRequest body).
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub attributes: Option<String>,
    pub excluded: Option<String>,
}

fn int_param(name: &str, v: Option<&str>) -> ScimResult<Option<i64>> {
    v.map(|s| {
        s.trim().parse::<i64>().map_err(|_| {
            ScimError::bad(ScimType::InvalidValue, format!("{name} must be an integer"))
        })
    })
    .transpose()
}

/// GET a list, or POST `.search`.
///
/// # Errors
/// `invalidFilter`, `invalidValue` for bad paging, storage errors.
pub async fn list(ctx: &Ctx, kind: Kind, p: ListParams) -> ScimResult<Value> {
    ctx.count("list", kind);
    let proj = Projection::parse(kind, p.attributes.as_deref(), p.excluded.as_deref())?;
    let filter = match p.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        None => None,
        // Text columns cannot hold NUL, so no stored value can match one.
        Some(f) if f.contains('\0') => {
            return Err(ScimError::bad(
                ScimType::InvalidFilter,
                "the filter contains a NUL character",
            ))
        }
        Some(f) => Some(
            parse_filter(f).map_err(|e| ScimError::bad(ScimType::InvalidFilter, e.to_string()))?,
        ),
    };
    let descending = match p.sort_order.as_deref().map(str::to_ascii_lowercase) {
        None => false,
        Some(o) if o == "ascending" => false,
        Some(o) if o == "descending" => true,
        Some(_) => {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                "sortOrder must be ascending or descending",
            ))
        }
    };
    let start = int_param("startIndex", p.start_index.as_deref())?
        .unwrap_or(1)
        .max(1);
    let count = int_param("count", p.count.as_deref())?
        .unwrap_or(DEFAULT_COUNT)
        .clamp(0, MAX_RESULTS);
    let sort_by = p.sort_by.filter(|s| !s.trim().is_empty());
    if let Some(s) = &sort_by {
        // Checked here, not when a page is read: an empty result must not hide a bad sortBy.
        super::sort::sort_expr(kind, s)?;
    }
    let q = ListQuery {
        filter,
        sort_by,
        descending,
        start,
        count,
    };
    let (tenant, base) = (ctx.tenant.clone(), ctx.base.clone());
    ctx.db
        .run(move |c| {
            let (total, items) = store::list(c, &tenant, kind, &q)?;
            let resources = render_page(c, kind, &base, &items, &proj)?;
            Ok(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": total,
                "itemsPerPage": resources.len(),
                "startIndex": start,
                "Resources": resources,
            }))
        })
        .await
}

/// A list across Users and Groups (the SCIM root): Users first, then Groups, paged over both.
/// A filter naming an attribute only one type has matches nothing of the other type.
///
/// # Errors
/// As [`list`]; `invalidFilter` only when the filter fits neither type.
pub async fn list_root(ctx: &Ctx, p: ListParams) -> ScimResult<Value> {
    let start = int_param("startIndex", p.start_index.as_deref())?
        .unwrap_or(1)
        .max(1);
    let count = int_param("count", p.count.as_deref())?
        .unwrap_or(DEFAULT_COUNT)
        .clamp(0, MAX_RESULTS);
    let mut totals = Vec::new();
    let mut first_error = None;
    let sort_by = p.sort_by.clone().filter(|s| !s.trim().is_empty());
    for kind in [Kind::User, Kind::Group] {
        // Each type sorts by sortBy when it has that attribute, else in its default order.
        let mut params = p.clone();
        params.sort_by = sort_by
            .clone()
            .filter(|s| super::sort::sort_expr(kind, s).is_ok());
        let probe = ListParams {
            start_index: None,
            count: Some("0".into()),
            ..params.clone()
        };
        match list(ctx, kind, probe).await {
            Ok(v) => totals.push((kind, params, v["totalResults"].as_i64().unwrap_or(0))),
            Err(e) if e.scim_type == Some(ScimType::InvalidFilter) => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if let (true, Some(e)) = (totals.is_empty(), first_error) {
        return Err(e);
    }
    if let Some(s) = &sort_by {
        if totals.iter().all(|(_, params, _)| params.sort_by.is_none()) {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                format!("sortBy: no resource type has {s}"),
            ));
        }
    }
    let total: i64 = totals.iter().map(|(_, _, t)| t).sum();
    let (mut skip, mut remaining) = (start - 1, count);
    let mut resources = Vec::new();
    for (kind, params, kind_total) in totals {
        if remaining == 0 {
            break;
        }
        if skip >= kind_total {
            skip -= kind_total;
            continue;
        }
        let page = ListParams {
            start_index: Some((skip + 1).to_string()),
            count: Some(remaining.to_string()),
            ..params
        };
        let v = list(ctx, kind, page).await?;
        if let Some(items) = v["Resources"].as_array() {
            remaining -= i64::try_from(items.len()).unwrap_or(remaining);
            resources.extend(items.iter().cloned());
        }
        skip = 0;
    }
    Ok(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start,
        "Resources": resources,
    }))
}
