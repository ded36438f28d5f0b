//! Bulk (RFC 7644 §3.7): many operations in one request, `bulkId` references resolved in any
//! order (an operation waits until the resource it refers to has been created), `failOnErrors`
//! honoured, limits advertised in ServiceProviderConfig and answered with 413 past them.

use super::discovery::{BULK_MAX_OPERATIONS, BULK_MAX_PAYLOAD};
use super::{authenticate, read_json, scim_json};
use crate::scim::error::{ScimError, ScimResult, ScimType};
use crate::scim::response::{etag, Projection};
use crate::scim::schema::Kind;
use crate::scim::service::{self, Ctx};
use crate::scim::store::Precondition;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

struct BulkOp {
    method: String,
    bulk_id: Option<String>,
    version: Option<String>,
    path: String,
    data: Value,
}

fn parse(body: &Value) -> ScimResult<(Vec<BulkOp>, Option<usize>)> {
    let syntax = |d: &str| ScimError::bad(ScimType::InvalidSyntax, d);
    let obj = body
        .as_object()
        .ok_or_else(|| syntax("a BulkRequest must be an object"))?;
    let get = |o: &Map<String, Value>, k: &str| {
        o.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let fail_on_errors = match get(obj, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| syntax("failOnErrors must be a positive integer"))?,
        ),
    };
    let ops = get(obj, "Operations")
        .and_then(|v| v.as_array().cloned())
        .ok_or_else(|| syntax("a BulkRequest needs an \"Operations\" array"))?;
    if ops.len() > BULK_MAX_OPERATIONS {
        return Err(ScimError::status(
            413,
            format!("at most {BULK_MAX_OPERATIONS} operations per Bulk request"),
        ));
    }
    let ops = ops
        .iter()
        .map(|op| {
            let o = op
                .as_object()
                .ok_or_else(|| syntax("each operation must be an object"))?;
            let s = |k: &str| get(o, k).and_then(|v| v.as_str().map(str::to_owned));
            Ok(BulkOp {
                method: s("method")
                    .ok_or_else(|| syntax("each operation needs a method"))?
                    .to_ascii_uppercase(),
                bulk_id: s("bulkId"),
                version: s("version"),
                path: s("path").ok_or_else(|| syntax("each operation needs a path"))?,
                data: get(o, "data").unwrap_or(Value::Null),
            })
        })
        .collect::<ScimResult<Vec<_>>>()?;
    Ok((ops, fail_on_errors))
}

/// The bulkIds a value refers to (`"bulkId:qwerty"` anywhere in it).
fn references(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:") {
                out.insert(id.to_owned());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        Value::Object(o) => o.values().for_each(|x| references(x, out)),
        _ => {}
    }
}

/// The bulkIds in a path (`/Users/bulkId:u1`), segment by segment.
fn path_references(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix("bulkId:").map(str::to_owned))
}

fn resolve_path(path: &str, ids: &HashMap<String, String>) -> String {
    path.split('/')
        .map(
            |seg| match seg.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                Some(id) => id.as_str(),
                None => seg,
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

fn resolve(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| resolve(x, ids)),
        Value::Object(o) => o.values_mut().for_each(|x| resolve(x, ids)),
        _ => {}
    }
}

/// `/Users`, `/Groups/abc` → the kind and the id, if any.
fn route(path: &str) -> ScimResult<(Kind, Option<String>)> {
    if path.contains('\0') {
        return Err(ScimError::bad(
            ScimType::InvalidPath,
            "the path contains a NUL character",
        ));
    }
    let mut parts = path.trim_matches('/').splitn(2, '/');
    let kind = match parts.next() {
        Some("Users") => Kind::User,
        Some("Groups") => Kind::Group,
        _ => {
            return Err(ScimError::bad(
                ScimType::InvalidPath,
                format!("unsupported bulk path {path}"),
            ))
        }
    };
    Ok((
        kind,
        parts.next().filter(|s| !s.is_empty()).map(str::to_owned),
    ))
}

async fn run_one(
    ctx: &Ctx,
    op: &BulkOp,
    data: Value,
    path: &str,
) -> ScimResult<(u16, Option<String>, Option<i64>)> {
    let (kind, id) = route(path)?;
    let pre = Precondition {
        if_match: op.version.clone(),
    };
    let need_id = || {
        id.clone().ok_or_else(|| {
            ScimError::bad(
                ScimType::InvalidPath,
                format!("{} needs a resource id", op.method),
            )
        })
    };
    let proj = Projection::default();
    Ok(match op.method.as_str() {
        "POST" if id.is_none() => {
            if op.bulk_id.is_none() {
                return Err(ScimError::bad(
                    ScimType::InvalidSyntax,
                    "POST operations need a bulkId",
                ));
            }
            let out = service::create(ctx, kind, data, proj).await?;
            (201, Some(out.location), Some(out.version))
        }
        "PUT" => {
            let out = service::replace(ctx, kind, need_id()?, data, pre, proj).await?;
            (200, Some(out.location), Some(out.version))
        }
        "PATCH" => {
            let out = service::patch(ctx, kind, need_id()?, data, pre, proj).await?;
            (200, Some(out.location), Some(out.version))
        }
        "DELETE" => {
            let id = need_id()?;
            service::delete(ctx, kind, id.clone(), pre).await?;
            (
                204,
                Some(format!("{}/{}/{id}", ctx.base, kind.endpoint())),
                None,
            )
        }
        m => {
            return Err(ScimError::status(
                405,
                format!("method {m} is not allowed on {path}"),
            ))
        }
    })
}

/// The state of one Bulk request as its operations run.
struct Run<'a> {
    ctx: &'a Ctx,
    ops: &'a [BulkOp],
    /// bulkIds that some POST of the request defines.
    creates: HashSet<String>,
    /// bulkId → id of the resource its POST created.
    created: HashMap<String, String>,
    results: Vec<Option<Value>>,
    errors: usize,
    fail_on_errors: Option<usize>,
}

impl Run<'_> {
    /// Runs every operation, each once the resources it refers to by bulkId exist.
    async fn all(&mut self) {
        let ops = self.ops;
        let mut pending: Vec<usize> = (0..ops.len()).collect();
        while !pending.is_empty() && !self.stopped() {
            let mut waiting = Vec::new();
            for &i in &pending {
                // Wait for a resource another operation of this request will create.
                if !self.missing(&ops[i]).is_empty() {
                    waiting.push(i);
                    continue;
                }
                self.execute(i, ops[i].data.clone()).await;
                if self.stopped() {
                    break;
                }
            }
            if waiting.len() == pending.len() {
                match self.unstick(waiting).await {
                    Some(rest) => waiting = rest,
                    None => break,
                }
            }
            pending = waiting;
        }
    }

    /// When every waiting operation waits: POSTs that wait only on each other form a cycle,
    /// which is broken; what waits on a POST that failed can never run, and fails as
    /// unresolved without creating anything. The operations still waiting, or `None` when
    /// nothing is left to run.
    async fn unstick(&mut self, waiting: Vec<usize>) -> Option<Vec<usize>> {
        let ops = self.ops;
        let (posts, rest): (Vec<usize>, Vec<usize>) =
            waiting.into_iter().partition(|&i| ops[i].method == "POST");
        let cycle: HashSet<String> = posts
            .iter()
            .filter_map(|&i| ops[i].bulk_id.clone())
            .collect();
        let (in_cycle, doomed): (Vec<usize>, Vec<usize>) = posts
            .into_iter()
            .partition(|&i| self.missing(&ops[i]).is_subset(&cycle));
        for i in doomed {
            self.execute(i, ops[i].data.clone()).await;
        }
        if in_cycle.is_empty() {
            for i in rest {
                self.execute(i, ops[i].data.clone()).await;
            }
            return None;
        }
        self.break_cycle(&in_cycle).await;
        Some(rest)
    }

    /// The bulkIds `op` refers to that no POST has created yet.
    fn missing(&self, op: &BulkOp) -> HashSet<String> {
        let mut refs = HashSet::new();
        references(&op.data, &mut refs);
        refs.extend(path_references(&op.path));
        refs.retain(|r| self.creates.contains(r) && !self.created.contains_key(r));
        refs
    }

    /// Runs operation `i` with `data` (its references resolved as far as they can be) and
    /// records the outcome. Returns the created or changed resource's id on success.
    async fn execute(&mut self, i: usize, mut data: Value) -> Option<String> {
        let op = &self.ops[i];
        let mut refs = HashSet::new();
        references(&data, &mut refs);
        refs.extend(path_references(&op.path));
        resolve(&mut data, &self.created);
        let path = resolve_path(&op.path, &self.created);
        let unresolved = refs.into_iter().find(|r| !self.created.contains_key(r));
        let outcome = match unresolved {
            Some(r) => Err(ScimError::status(
                409,
                format!("bulkId:{r} does not refer to any resource created in this request"),
            )),
            None => run_one(self.ctx, op, data, &path).await,
        };
        let mut entry = json!({"method": op.method});
        if let Some(b) = &op.bulk_id {
            entry["bulkId"] = json!(b);
        }
        let mut id = None;
        match outcome {
            Ok((status, location, version)) => {
                entry["status"] = json!(status.to_string());
                if let Some(l) = &location {
                    entry["location"] = json!(l);
                    let new_id = l.rsplit('/').next().unwrap_or_default().to_owned();
                    if let (Some(b), 201) = (&op.bulk_id, status) {
                        self.created.insert(b.clone(), new_id.clone());
                    }
                    id = Some(new_id);
                }
                if let Some(v) = version {
                    entry["version"] = json!(etag(v));
                }
            }
            Err(e) => self.fail(&mut entry, &e),
        }
        self.results[i] = Some(entry);
        id
    }

    fn fail(&mut self, entry: &mut Value, e: &ScimError) {
        self.errors += 1;
        entry["status"] = json!(e.status.to_string());
        entry["response"] = e.body();
    }

    fn stopped(&self) -> bool {
        self.fail_on_errors.is_some_and(|n| self.errors >= n)
    }

    /// Breaks a cycle of POSTs that refer to each other (two groups that contain each other):
    /// each is created without the array elements that refer to the others, and those are added
    /// with a PATCH once all of them exist (RFC 7644 §3.7.1).
    async fn break_cycle(&mut self, posts: &[usize]) {
        let cycle: HashSet<String> = posts
            .iter()
            .filter_map(|&i| self.ops[i].bulk_id.clone())
            .collect();
        let mut held_back = Vec::new();
        for &i in posts {
            let (data, held) = hold_back(&self.ops[i].data, &cycle);
            if let Some(id) = self.execute(i, data).await {
                held_back.push((i, id, held));
            }
            if self.stopped() {
                return;
            }
        }
        for (i, id, held) in held_back {
            if held.is_empty() {
                continue;
            }
            let Ok((kind, _)) = route(&self.ops[i].path) else {
                continue;
            };
            let operations: Vec<Value> = held
                .into_iter()
                .map(|(key, values)| {
                    let mut values = Value::Array(values);
                    resolve(&mut values, &self.created);
                    json!({"op": "add", "path": key, "value": values})
                })
                .collect();
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": operations,
            });
            let pre = Precondition::default();
            if let Err(e) =
                service::patch(self.ctx, kind, id, body, pre, Projection::default()).await
            {
                let mut entry = self.results[i].take().unwrap_or_else(|| json!({}));
                self.fail(&mut entry, &e);
                self.results[i] = Some(entry);
            }
        }
    }
}

/// Splits off `data` the top-level array elements that refer to a bulkId of `cycle`.
fn hold_back(data: &Value, cycle: &HashSet<String>) -> (Value, Vec<(String, Vec<Value>)>) {
    let mut data = data.clone();
    let mut held = Vec::new();
    if let Value::Object(obj) = &mut data {
        for (key, value) in obj.iter_mut() {
            let Value::Array(items) = value else { continue };
            let (later, now): (Vec<Value>, Vec<Value>) = items.drain(..).partition(|item| {
                let mut refs = HashSet::new();
                references(item, &mut refs);
                !refs.is_disjoint(cycle)
            });
            *items = now;
            if !later.is_empty() {
                held.push((key.clone(), later));
            }
        }
    }
    (data, held)
}

/// POST /Bulk
pub async fn bulk(req: HttpRequest, payload: web::Payload) -> ScimResult<HttpResponse> {
    let ctx = authenticate(&req).await?;
    let body = read_json(payload, BULK_MAX_PAYLOAD).await?;
    crate::activity::note(&req, crate::activity::describe_bulk(&body));
    let (ops, fail_on_errors) = parse(&body)?;
    let mut run = Run {
        ctx: &ctx,
        ops: &ops,
        creates: ops
            .iter()
            .filter(|o| o.method == "POST")
            .filter_map(|o| o.bulk_id.clone())
            .collect(),
        created: HashMap::new(),
        results: vec![None; ops.len()],
        errors: 0,
        fail_on_errors,
    };
    run.all().await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"],
        "Operations": run.results.into_iter().flatten().collect::<Vec<_>>(),
    });
    Ok(scim_json(StatusCode::OK, &body))
}
