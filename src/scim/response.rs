//! A stored resource as a response: the full representation ([`render`], with `meta` and
//! the relations), trimmed by `attributes` / `excludedAttributes` ([`Projection`]).

use super::error::{ScimError, ScimResult, ScimType};
use super::filter::AttrPath;
use super::resource::Doc;
use super::schema::{Kind, Returned, REGISTRY};
use serde_json::{json, Map, Value};

/// The columns and relations of a stored resource that `render` needs besides its document.
pub struct Meta<'a> {
    pub id: &'a str,
    pub created: &'a str,
    pub last_modified: &'a str,
    pub version: i64,
    /// `<public url>/scim/v2/<tenant>`
    pub base: &'a str,
}

/// The weak ETag of a version, equal to `meta.version`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// A member of a group, or a group of a user, as shown in `members` / `groups`.
#[derive(Debug, Clone)]
pub struct Related {
    pub id: String,
    pub kind: Kind,
    pub display: Option<String>,
}

/// Builds the full SCIM representation. `related` is a Group's members or a User's groups, when
/// they were read (`None` leaves the attribute out).
pub fn render(kind: Kind, doc: &Doc, meta: &Meta<'_>, related: Option<&[Related]>) -> Value {
    let mut schemas = vec![Value::from(kind.core_urn())];
    for urn in kind.extension_urns() {
        if doc.contains_key(*urn) {
            schemas.push(Value::from(*urn));
        }
    }
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::from(meta.id));
    for (k, v) in doc {
        out.insert(k.clone(), v.clone());
    }
    if let Some(related) = related.filter(|r| !r.is_empty()) {
        let list: Vec<Value> = related
            .iter()
            .map(|r| {
                let mut o = json!({
                    "value": r.id,
                    "$ref": format!("{}/{}/{}", meta.base, r.kind.endpoint(), r.id),
                    "type": r.kind.name(),
                });
                if let Some(d) = &r.display {
                    o["display"] = Value::from(d.as_str());
                }
                if kind == Kind::User {
                    o["type"] = Value::from("direct");
                }
                o
            })
            .collect();
        let key = match kind {
            Kind::User => "groups",
            Kind::Group => "members",
        };
        out.insert(key.into(), Value::Array(list));
    }
    let location = format!("{}/{}/{}", meta.base, kind.endpoint(), meta.id);
    out.insert(
        "meta".into(),
        json!({
            "resourceType": kind.name(),
            "created": meta.created,
            "lastModified": meta.last_modified,
            "location": location,
            "version": etag(meta.version),
        }),
    );
    Value::Object(out)
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5), already resolved against the schema.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    include: Vec<Sel>,
    exclude: Vec<Sel>,
}

/// One selected attribute: the key in the rendered object (an extension URN or `None` for the
/// top level), the attribute name, and an optional sub-attribute.
#[derive(Debug, Clone, PartialEq)]
struct Sel {
    ext: Option<&'static str>,
    name: Option<String>,
    sub: Option<String>,
}

impl Projection {
    /// Parses the two comma-separated query parameters.
    ///
    /// # Errors
    /// `invalidSyntax` when both are given.
    pub fn parse(kind: Kind, attributes: Option<&str>, excluded: Option<&str>) -> ScimResult<Self> {
        let attributes = attributes.filter(|s| !s.trim().is_empty());
        let excluded = excluded.filter(|s| !s.trim().is_empty());
        if attributes.is_some() && excluded.is_some() {
            return Err(ScimError::bad(
                ScimType::InvalidSyntax,
                "attributes and excludedAttributes are mutually exclusive",
            ));
        }
        Ok(Projection {
            include: attributes.map(|s| parse_list(kind, s)).unwrap_or_default(),
            exclude: excluded.map(|s| parse_list(kind, s)).unwrap_or_default(),
        })
    }

    /// Whether the response will show `name` (a top-level core attribute): used to skip reading
    /// member rows that would be thrown away.
    pub fn shows(&self, name: &str) -> bool {
        let hit = |s: &Sel| {
            s.ext.is_none()
                && s.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        };
        if !self.include.is_empty() {
            return self.include.iter().any(hit);
        }
        !self.exclude.iter().any(|s| hit(s) && s.sub.is_none())
    }

    /// Whether `attributes` names `name` explicitly.
    pub fn names(&self, name: &str) -> bool {
        self.include.iter().any(|s| {
            s.ext.is_none()
                && s.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// Applies the projection and the `returned` rules to a rendered resource.
    pub fn apply(&self, kind: Kind, resource: Value) -> Value {
        let Value::Object(mut full) = resource else {
            return resource;
        };
        if !self.include.is_empty() {
            let mut out = Map::new();
            for key in ["schemas", "id"] {
                if let Some(v) = full.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
            for sel in &self.include {
                copy_sel(&full, &mut out, sel);
            }
            return Value::Object(out);
        }
        for sel in &self.exclude {
            if !is_always(kind, sel) {
                remove_sel(&mut full, sel);
            }
        }
        Value::Object(full)
    }
}

fn is_always(kind: Kind, sel: &Sel) -> bool {
    let Some(name) = &sel.name else { return false };
    let path = AttrPath {
        urn: sel.ext.map(str::to_owned),
        name: name.clone(),
        sub: sel.sub.clone(),
    };
    REGISTRY
        .resolve(kind, &path)
        .is_some_and(|t| t.leaf().returned == Returned::Always)
        || name.eq_ignore_ascii_case("schemas")
}

fn parse_list(kind: Kind, list: &str) -> Vec<Sel> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|item| {
            // A bare extension URN selects the whole extension object.
            if let Some(urn) = REGISTRY.extension_of(kind, item) {
                return Some(Sel {
                    ext: Some(urn),
                    name: None,
                    sub: None,
                });
            }
            let path = super::filter::parse_path(item).ok()?.attr;
            let ext = match &path.urn {
                Some(u) if !u.eq_ignore_ascii_case(kind.core_urn()) => {
                    Some(REGISTRY.extension_of(kind, u)?)
                }
                _ => None,
            };
            Some(Sel {
                ext,
                name: Some(path.name),
                sub: path.sub,
            })
        })
        .collect()
}

fn find_key<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name))
}

fn copy_sel(full: &Map<String, Value>, out: &mut Map<String, Value>, sel: &Sel) {
    let (src, dst) = match sel.ext {
        None => (full, &mut *out),
        Some(urn) => {
            let Some(Value::Object(src)) = full.get(urn) else {
                return;
            };
            let dst = out
                .entry(urn.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(dst) = dst else { return };
            if sel.name.is_none() {
                *dst = src.clone();
                return;
            }
            (src, dst)
        }
    };
    let Some(name) = &sel.name else { return };
    let Some(key) = find_key(src, name) else {
        return;
    };
    let value = &src[key];
    let Some(sub) = &sel.sub else {
        dst.insert(key.clone(), value.clone());
        return;
    };
    let pick = |v: &Value| -> Option<Value> {
        let o = v.as_object()?;
        let k = find_key(o, sub)?;
        Some(json!({ k.clone(): o[k].clone() }))
    };
    let merged = match (value, dst.get_mut(key)) {
        (Value::Array(items), existing) => {
            let picked: Vec<Value> = items.iter().map(|v| pick(v).unwrap_or(json!({}))).collect();
            match existing {
                Some(Value::Array(have)) => {
                    for (h, p) in have.iter_mut().zip(picked) {
                        merge_objects(h, p);
                    }
                    return;
                }
                _ => Value::Array(picked),
            }
        }
        (v, Some(existing)) => {
            if let Some(p) = pick(v) {
                merge_objects(existing, p);
            }
            return;
        }
        (v, None) => match pick(v) {
            Some(p) => p,
            None => return,
        },
    };
    dst.insert(key.clone(), merged);
}

fn merge_objects(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        a.extend(b);
    }
}

fn remove_sel(full: &mut Map<String, Value>, sel: &Sel) {
    let obj = match sel.ext {
        None => full,
        Some(urn) => {
            if sel.name.is_none() {
                full.remove(urn);
                return;
            }
            match full.get_mut(urn) {
                Some(Value::Object(o)) => o,
                _ => return,
            }
        }
    };
    let Some(name) = &sel.name else { return };
    let Some(key) = find_key(obj, name).cloned() else {
        return;
    };
    let Some(sub) = &sel.sub else {
        obj.remove(&key);
        return;
    };
    let strip = |v: &mut Value| {
        if let Value::Object(o) = v {
            if let Some(k) = find_key(o, sub).cloned() {
                o.remove(&k);
            }
        }
    };
    match obj.get_mut(&key) {
        Some(Value::Array(items)) => items.iter_mut().for_each(strip),
        Some(v) => strip(v),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projections_follow_returned_rules() {
        let full = json!({"schemas": ["s"], "id": "1", "userName": "a",
            "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@x", "type": "work"}], "meta": {"version": "W/\"1\""}});
        let p = Projection::parse(Kind::User, Some("name.givenName,emails.value"), None).unwrap();
        let out = p.apply(Kind::User, full.clone());
        assert_eq!(
            out,
            json!({"schemas": ["s"], "id": "1", "name": {"givenName": "A"},
            "emails": [{"value": "a@x"}]})
        );
        let p = Projection::parse(Kind::User, None, Some("id,name,emails.type,meta")).unwrap();
        let out = p.apply(Kind::User, full);
        assert_eq!(
            out,
            json!({"schemas": ["s"], "id": "1", "userName": "a",
            "emails": [{"value": "a@x"}]})
        );
        assert!(Projection::parse(Kind::User, Some("a"), Some("b")).is_err());
    }
}
