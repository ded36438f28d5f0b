//! PATCH (RFC 7644 §3.5.2) applied to a resource document, all-or-nothing: operations run in
//! order on a copy, and any error discards the copy. Accepts every form Okta and Entra ID send:
//! PascalCase ops, path-less add/replace with nested, dotted or URN-qualified keys, value-path
//! filters with sub-attributes, a filtered `add` that creates the missing element, and member
//! removal by filter or by value list. Group membership is not in the document: member changes
//! come out as [`MemberOp`]s that the store turns into set-based row writes.

mod values;

use crate::scim::error::{ScimError, ScimResult, ScimType};
use crate::scim::filter::{parse_path, CompValue, CompareOp, Filter, PatchPath};
use crate::scim::resource::{check_required, member_ids, Doc};
use crate::scim::schema::{Common, Kind, Mutability, Target, REGISTRY};
use serde_json::{Map, Value};
use values::{check_immutable, container, remove_plain, set_plain, tidy, with_filter};

/// The three operations, read case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

/// One parsed operation.
#[derive(Debug, Clone)]
pub struct Op {
    pub kind: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// A change to a Group's membership rows.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberOp {
    Add(Vec<String>),
    Remove(Vec<String>),
    Replace(Vec<String>),
    RemoveAll,
    /// Remove the members matching a filter on `value`/`type` (rare: most removals name ids).
    RemoveWhere(Filter),
}

/// The outcome of a PATCH: the new document, a new password if one was set, member changes.
#[derive(Debug)]
pub struct Patched {
    pub doc: Doc,
    pub password: Option<String>,
    pub members: Vec<MemberOp>,
}

/// Reads a PatchOp request body.
///
/// # Errors
/// `invalidSyntax` when the body is not a PatchOp with an `Operations` array of valid ops.
pub fn parse_ops(body: &Value) -> ScimResult<Vec<Op>> {
    let syntax = |d: &str| ScimError::bad(ScimType::InvalidSyntax, d);
    let obj = body
        .as_object()
        .ok_or_else(|| syntax("the body must be a PatchOp object"))?;
    let ops = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| syntax("a PatchOp needs an \"Operations\" array"))?;
    if ops.is_empty() {
        return Err(syntax("\"Operations\" is empty"));
    }
    ops.iter()
        .map(|op| {
            let o = op
                .as_object()
                .ok_or_else(|| syntax("each operation must be an object"))?;
            let get = |name: &str| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            };
            let kind = match get("op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
            {
                Some(s) if s == "add" => OpKind::Add,
                Some(s) if s == "replace" => OpKind::Replace,
                Some(s) if s == "remove" => OpKind::Remove,
                _ => return Err(syntax("\"op\" must be add, replace or remove")),
            };
            let path = match get("path") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(s.trim().to_owned()),
                Some(_) => {
                    return Err(ScimError::bad(
                        ScimType::InvalidPath,
                        "\"path\" must be a string",
                    ))
                }
            };
            Ok(Op {
                kind,
                path,
                value: get("value").cloned(),
            })
        })
        .collect()
}

/// The new password an operation list sets, if any: found before the transaction so it can be
/// hashed outside it. The operations run against an empty document, each on its own, so every
/// way of naming `password` (bare, URN-qualified, inside a path-less value) is recognised exactly
/// as [`apply`] recognises it.
pub fn password_of(kind: Kind, ops: &[Op]) -> Option<String> {
    let mut p = Patcher {
        kind,
        out: Patched {
            doc: Doc::new(),
            password: None,
            members: Vec::new(),
        },
    };
    for op in ops {
        let _ = p.op(op);
    }
    p.out.password
}

/// Applies `ops` to a copy of `doc`.
///
/// # Errors
/// `invalidPath`, `noTarget`, `mutability`, `invalidValue` as RFC 7644 §3.5.2 prescribes; the
/// original document is untouched.
pub fn apply(kind: Kind, doc: &Doc, ops: &[Op]) -> ScimResult<Patched> {
    let mut p = Patcher {
        kind,
        out: Patched {
            doc: doc.clone(),
            password: None,
            members: Vec::new(),
        },
    };
    for op in ops {
        p.op(op)?;
    }
    check_required(kind, &p.out.doc)?;
    Ok(p.out)
}

struct Patcher {
    kind: Kind,
    out: Patched,
}

fn invalid_path(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidPath, detail)
}

fn mutability(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::Mutability, detail)
}

impl Patcher {
    fn op(&mut self, op: &Op) -> ScimResult<()> {
        let Some(path) = &op.path else {
            return self.pathless(op);
        };
        // A path naming a whole extension (`"path": "<urn>"`) targets its object.
        if let Some(urn) = REGISTRY.extension_of(self.kind, path) {
            if op.kind == OpKind::Remove {
                self.out.doc.remove(urn);
                return Ok(());
            }
            let mut value = Map::new();
            value.insert(urn.to_owned(), op.value.clone().unwrap_or(Value::Null));
            return self.pathless(&Op {
                kind: op.kind,
                path: None,
                value: Some(Value::Object(value)),
            });
        }
        let pp = parse_path(path).map_err(|e| invalid_path(format!("path {path:?}: {e}")))?;
        self.at_path(op.kind, &pp, op.value.as_ref(), true)
    }

    /// `{"op": "replace", "value": {"active": false, "name.givenName": "A", "<urn>:dept": "X"}}`
    fn pathless(&mut self, op: &Op) -> ScimResult<()> {
        if op.kind == OpKind::Remove {
            return Err(ScimError::bad(ScimType::NoTarget, "remove needs a path"));
        }
        let Some(Value::Object(values)) = &op.value else {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                "an operation without a path needs an object value",
            ));
        };
        for (key, value) in values {
            if let Some(urn) = REGISTRY.extension_of(self.kind, key) {
                if op.kind == OpKind::Replace && value.is_null() {
                    self.out.doc.remove(urn);
                    continue;
                }
                let Value::Object(inner) = value else {
                    return Err(ScimError::bad(
                        ScimType::InvalidValue,
                        format!("{urn} must be an object"),
                    ));
                };
                for (k, v) in inner {
                    if let Ok(mut pp) = parse_path(k) {
                        pp.attr.urn = Some(urn.to_owned());
                        self.at_path(op.kind, &pp, Some(v), false)?;
                    }
                }
                continue;
            }
            // Unknown keys and URNs in a path-less value are ignored, as in a POST body.
            if let Ok(pp) = parse_path(key) {
                self.at_path(op.kind, &pp, Some(value), false)?;
            }
        }
        Ok(())
    }

    /// Applies one operation at a parsed path. `explicit` is false for keys of a path-less
    /// value, where unknown and readOnly attributes are skipped rather than refused.
    fn at_path(
        &mut self,
        kind: OpKind,
        pp: &PatchPath,
        value: Option<&Value>,
        explicit: bool,
    ) -> ScimResult<()> {
        let Some(target) = REGISTRY.resolve(self.kind, &pp.attr) else {
            return if explicit {
                Err(invalid_path(format!("unknown attribute {}", pp.attr.name)))
            } else {
                Ok(())
            };
        };
        let (ext, attr, sub) = match target {
            Target::Common(Common::ExternalId) if pp.filter.is_none() => {
                return self.external_id(kind, value);
            }
            Target::Common(_) if !explicit => return Ok(()),
            Target::Common(_) => {
                return Err(mutability(format!("{} is readOnly", pp.attr.name)));
            }
            Target::Attr {
                extension,
                attr,
                sub,
            } => (
                extension,
                attr,
                sub.or(pp.sub.as_deref().and_then(|s| attr.sub(s))),
            ),
        };
        if pp.sub.is_some() && sub.is_none() {
            return Err(invalid_path(format!(
                "{} has no such sub-attribute",
                attr.name
            )));
        }
        if self.kind == Kind::Group && attr.name == "members" {
            return self.members(kind, pp, value);
        }
        if self.kind == Kind::User && attr.name == "password" {
            return self.password(kind, value);
        }
        let leaf = sub.unwrap_or(attr);
        if attr.mutability == Mutability::ReadOnly || leaf.mutability == Mutability::ReadOnly {
            return if explicit {
                Err(mutability(format!("{} is readOnly", leaf.name)))
            } else {
                Ok(())
            };
        }
        let before = self.out.doc.clone();
        let container = container(&mut self.out.doc, ext, kind != OpKind::Remove);
        let Some(container) = container else {
            return Ok(()); // removing from an extension that is not there
        };
        match (&pp.filter, kind) {
            (None, OpKind::Remove) => remove_plain(container, attr, sub, value)?,
            (None, _) => set_plain(container, kind, attr, sub, value)?,
            (Some(f), _) => with_filter(container, kind, attr, sub, f, value)?,
        }
        tidy(&mut self.out.doc, ext);
        check_immutable(&before, &self.out.doc, ext, attr)
    }

    fn external_id(&mut self, kind: OpKind, value: Option<&Value>) -> ScimResult<()> {
        match (kind, value) {
            (OpKind::Remove, _) | (_, None | Some(Value::Null)) => {
                self.out.doc.remove("externalId");
            }
            (_, Some(Value::String(s))) if s.is_empty() => {
                self.out.doc.remove("externalId");
            }
            (_, Some(Value::String(s))) => {
                self.out
                    .doc
                    .insert("externalId".into(), Value::from(s.as_str()));
            }
            _ => {
                return Err(ScimError::bad(
                    ScimType::InvalidValue,
                    "externalId must be a string",
                ))
            }
        }
        Ok(())
    }

    fn password(&mut self, kind: OpKind, value: Option<&Value>) -> ScimResult<()> {
        match (kind, value) {
            (OpKind::Remove, _) => Err(mutability("password cannot be removed, only replaced")),
            (_, Some(Value::String(s))) if !s.is_empty() => {
                self.out.password = Some(s.clone());
                Ok(())
            }
            _ => Err(ScimError::bad(
                ScimType::InvalidValue,
                "password must be a non-empty string",
            )),
        }
    }

    fn members(&mut self, kind: OpKind, pp: &PatchPath, value: Option<&Value>) -> ScimResult<()> {
        let ops = &mut self.out.members;
        if pp.attr.sub.is_some() || pp.sub.is_some() {
            return Err(invalid_path(
                "member sub-attributes cannot be changed one by one",
            ));
        }
        match (kind, &pp.filter) {
            (OpKind::Add, None) => {
                ops.push(MemberOp::Add(member_ids(value.unwrap_or(&Value::Null))?))
            }
            (OpKind::Replace, None) => ops.push(MemberOp::Replace(member_ids(
                value.unwrap_or(&Value::Null),
            )?)),
            // Entra's legacy form: remove with path "members" and a value list removes only those.
            (OpKind::Remove, None) => match value {
                None | Some(Value::Null) => ops.push(MemberOp::RemoveAll),
                Some(v) => ops.push(MemberOp::Remove(member_ids(v)?)),
            },
            (OpKind::Remove, Some(f)) => match ids_of(f) {
                Some(ids) => ops.push(MemberOp::Remove(ids)),
                None => ops.push(MemberOp::RemoveWhere(f.clone())),
            },
            (_, Some(_)) => {
                return Err(mutability(
                    "members are immutable references: remove and add them instead",
                ))
            }
        }
        Ok(())
    }
}

/// `value eq "a" or value eq "b"` → the ids; anything else → None.
fn ids_of(f: &Filter) -> Option<Vec<String>> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(s),
        } if path.name.eq_ignore_ascii_case("value") && path.sub.is_none() => Some(vec![s.clone()]),
        Filter::Or(a, b) => {
            let mut ids = ids_of(a)?;
            ids.extend(ids_of(b)?);
            Some(ids)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: Value, ops: Value) -> ScimResult<Patched> {
        let ops = parse_ops(&json!({"schemas": [], "Operations": ops}))?;
        apply(Kind::User, doc.as_object().unwrap(), &ops)
    }

    fn user() -> Value {
        json!({"userName": "ann", "active": true,
            "emails": [{"value": "a@work", "type": "work", "primary": true},
                       {"value": "a@home", "type": "home"}]})
    }

    #[test]
    fn entra_pathless_replace_with_dotted_urn_and_string_bool() {
        let p = run(
            user(),
            json!([{"op": "Replace", "value": {
            "active": "False", "name.givenName": "Ann", "displayName": "Ann B",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D"}}]),
        )
        .unwrap();
        assert_eq!(p.doc["active"], false);
        assert_eq!(p.doc["name"]["givenName"], "Ann");
        assert_eq!(
            p.doc["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "R&D"
        );
    }

    #[test]
    fn value_path_with_sub_attribute_and_filtered_add() {
        let p = run(
            user(),
            json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@work"},
            {"op": "add", "path": "emails[type eq \"other\"].value", "value": "o@x"}]),
        )
        .unwrap();
        assert_eq!(p.doc["emails"][0]["value"], "new@work");
        assert_eq!(p.doc["emails"][2], json!({"type": "other", "value": "o@x"}));
        let e = run(
            user(),
            json!([{"op": "replace", "path": "emails[type eq \"x\"].value", "value": "v"}]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    }

    #[test]
    fn primary_is_exclusive_and_errors_are_atomic() {
        let p = run(
            user(),
            json!([{"op": "add", "path": "emails",
            "value": [{"value": "n@x", "primary": true}]}]),
        )
        .unwrap();
        assert_eq!(p.doc["emails"][0]["primary"], false);
        assert_eq!(p.doc["emails"][2]["primary"], true);
        let e = run(user(), json!([{"op": "remove", "path": "userName"}])).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        let e = run(user(), json!([{"op": "remove"}])).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
        let e = run(user(), json!([{"op": "add", "path": "emails[type eq"}])).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        let e = run(
            user(),
            json!([{"op": "replace", "path": "groups", "value": []}]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
    }

    #[test]
    fn member_forms() {
        let ops = parse_ops(&json!({"Operations": [
            {"op": "Remove", "path": "members", "value": [{"value": "u1"}]},
            {"op": "remove", "path": "members[value eq \"u2\"]"},
            {"op": "add", "path": "members", "value": [{"value": "u3"}, {"value": "u4"}]},
            {"op": "replace", "value": {"members": [{"value": "u5"}], "displayName": "g"}},
            {"op": "remove", "path": "members"}]}))
        .unwrap();
        let doc = json!({"displayName": "x"});
        let p = apply(Kind::Group, doc.as_object().unwrap(), &ops).unwrap();
        assert_eq!(
            p.members,
            vec![
                MemberOp::Remove(vec!["u1".into()]),
                MemberOp::Remove(vec!["u2".into()]),
                MemberOp::Add(vec!["u3".into(), "u4".into()]),
                MemberOp::Replace(vec!["u5".into()]),
                MemberOp::RemoveAll,
            ]
        );
        assert_eq!(p.doc["displayName"], "g");
    }
}
