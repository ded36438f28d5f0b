//! The canonical document of a User or Group: attribute names in their schema spelling, values
//! coerced to their schema types, unassigned values dropped, extension attributes nested under
//! the extension URN. Request bodies are turned into it by [`normalize`]; responses are built
//! from it in `response`.

use super::error::{ScimError, ScimResult, ScimType};
use super::filter::AttrPath;
use super::schema::{AttrType, Attribute, Kind, Mutability, Target, REGISTRY};
use serde_json::{json, Map, Value};

/// A stored document.
pub type Doc = Map<String, Value>;

/// What a POST or PUT body carries besides the document itself.
#[derive(Debug, Default)]
pub struct Incoming {
    pub doc: Doc,
    /// A User's `password` (writeOnly; hashed before storage, never kept in the document).
    pub password: Option<String>,
    /// A Group's `members[].value` ids, when the body names `members`.
    pub members: Option<Vec<String>>,
}

/// Turns a POST/PUT body into a document. readOnly attributes (`id`, `meta`, `groups`, ...),
/// unknown attributes and unknown schema URNs are ignored, as IdPs send all of them.
///
/// # Errors
/// `invalidSyntax` for a body that is not an object, `invalidValue` for a value of the wrong
/// type or a missing required attribute.
pub fn normalize(kind: Kind, body: &Value) -> ScimResult<Incoming> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::bad(
            ScimType::InvalidSyntax,
            "the request body must be a JSON object",
        ));
    };
    let mut incoming = Incoming::default();
    for (key, value) in obj {
        if let Some(urn) = REGISTRY.extension_of(kind, key) {
            let ext = normalize_extension(urn, value)?;
            if !ext.is_empty() {
                incoming.doc.insert(urn.to_owned(), Value::Object(ext));
            }
            continue;
        }
        let path = AttrPath {
            urn: None,
            name: key.clone(),
            sub: None,
        };
        match REGISTRY.resolve(kind, &path) {
            Some(Target::Common(super::schema::Common::ExternalId)) => {
                if let Some(v) = coerce_string(value, "externalId")? {
                    incoming.doc.insert("externalId".into(), v);
                }
            }
            Some(Target::Attr {
                extension: None,
                attr,
                ..
            }) => {
                accept_attr(kind, attr, value, &mut incoming)?;
            }
            // An extension attribute written without its URN (`"manager": {...}`).
            Some(Target::Attr {
                extension: Some(urn),
                attr,
                ..
            }) if attr.mutability != Mutability::ReadOnly => {
                if let Some(v) = coerce(attr, value)? {
                    let ext = incoming
                        .doc
                        .entry(urn.to_owned())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(ext) = ext {
                        ext.entry(attr.name.clone()).or_insert(v);
                    }
                }
            }
            // id, meta, schemas, unknown names and unknown URNs: ignored.
            _ => {}
        }
    }
    check_required(kind, &incoming.doc)?;
    Ok(incoming)
}

fn accept_attr(kind: Kind, attr: &Attribute, value: &Value, into: &mut Incoming) -> ScimResult<()> {
    if kind == Kind::Group && attr.name == "members" {
        into.members = Some(member_ids(value)?);
        return Ok(());
    }
    if kind == Kind::User && attr.name == "password" {
        into.password = match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => return Err(invalid("password", "a string")),
        };
        return Ok(());
    }
    if attr.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    if let Some(v) = coerce(attr, value)? {
        into.doc.insert(attr.name.clone(), v);
    }
    Ok(())
}

fn normalize_extension(urn: &str, value: &Value) -> ScimResult<Doc> {
    let mut out = Doc::new();
    let Some(obj) = value.as_object() else {
        return match value {
            Value::Null => Ok(out),
            _ => Err(invalid(urn, "an object")),
        };
    };
    let Some(schema) = REGISTRY.schema(urn) else {
        return Ok(out);
    };
    for (key, v) in obj {
        if let Some(attr) = schema.attr(key) {
            if attr.mutability == Mutability::ReadOnly {
                continue;
            }
            if let Some(v) = coerce(attr, v)? {
                out.insert(attr.name.clone(), v);
            }
        }
    }
    Ok(out)
}

/// Checks the attributes the schema marks required.
///
/// # Errors
/// `invalidValue` naming the missing attribute.
pub fn check_required(kind: Kind, doc: &Doc) -> ScimResult<()> {
    let Some(schema) = REGISTRY.schema(kind.core_urn()) else {
        return Ok(());
    };
    for attr in schema.attributes.iter().filter(|a| a.required) {
        let missing = match doc.get(&attr.name) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            _ => false,
        };
        if missing {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                format!("{} is required", attr.name),
            ));
        }
    }
    Ok(())
}

/// The member ids of a `members` value: `[{"value": "id"}, ...]`.
///
/// # Errors
/// `invalidValue` when an element has no string `value`.
pub fn member_ids(value: &Value) -> ScimResult<Vec<String>> {
    let items: Vec<&Value> = match value {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")))
            .and_then(|(_, v)| v.as_str())
            .or_else(|| item.as_str());
        match id {
            Some(id) if !id.is_empty() && !id.contains('\0') => ids.push(id.to_owned()),
            _ => return Err(invalid("members", "objects with a string \"value\"")),
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

fn invalid(name: &str, expected: &str) -> ScimError {
    ScimError::bad(ScimType::InvalidValue, format!("{name} must be {expected}"))
}

/// Coerces `value` to `attr`'s type. `None` means unassigned (`null`, `[]`, `{}` or `""` for a
/// complex value's every part). Accepts the forms IdPs really send: `"True"`/`"False"` for
/// booleans, a one-element array for a single-valued complex attribute (Entra's `manager`), a
/// lone object for a multi-valued one.
///
/// # Errors
/// `invalidValue` when the value cannot be read as the attribute's type.
pub fn coerce(attr: &Attribute, value: &Value) -> ScimResult<Option<Value>> {
    if attr.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Null => return Ok(None),
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = coerce_one(attr, item)? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        one_primary(&mut out, None);
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    match value {
        Value::Array(a) if a.is_empty() => Ok(None),
        Value::Array(a) if a.len() == 1 && attr.kind == AttrType::Complex => {
            coerce_one(attr, &a[0])
        }
        Value::Array(_) => Err(invalid(&attr.name, "a single value")),
        other => coerce_one(attr, other),
    }
}

/// Keeps at most one `primary: true` in a multi-valued attribute: `keep` (an index) wins when
/// given, else the first one (RFC 7643 §2.4).
pub fn one_primary(items: &mut [Value], keep: Option<usize>) {
    let is_primary = |v: &Value| v.get("primary") == Some(&Value::Bool(true));
    let winner = keep
        .filter(|&i| items.get(i).is_some_and(is_primary))
        .or_else(|| items.iter().position(is_primary));
    for (i, item) in items.iter_mut().enumerate() {
        if Some(i) != winner && is_primary(item) {
            if let Some(o) = item.as_object_mut() {
                o.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

fn coerce_one(attr: &Attribute, value: &Value) -> ScimResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    match attr.kind {
        AttrType::Complex => {
            // Entra sends `"manager": "<id>"`: for a single-valued complex attribute a bare
            // string is its `value` sub-attribute. (`"emails": "x"` stays an error.)
            if let (false, Value::String(_), Some(sub)) =
                (attr.multi_valued, value, attr.sub("value"))
            {
                return Ok(coerce_one(sub, value)?.map(|v| json!({ sub.name.clone(): v })));
            }
            let Some(obj) = value.as_object() else {
                return Err(invalid(&attr.name, "an object"));
            };
            let mut out = Map::new();
            for (k, v) in obj {
                let Some(sub) = attr.sub(k) else { continue };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(v) = coerce_one(sub, v)? {
                    out.insert(sub.name.clone(), v);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        AttrType::Boolean => match value {
            Value::Bool(b) => Ok(Some(Value::Bool(*b))),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
            _ => Err(invalid(&attr.name, "a boolean")),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() => Ok(Some(value.clone())),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(|n| Some(json!(n)))
                .map_err(|_| invalid(&attr.name, "an integer")),
            _ => Err(invalid(&attr.name, "an integer")),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => Ok(Some(value.clone())),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(|n| Some(Value::Number(n)))
                .ok_or_else(|| invalid(&attr.name, "a number")),
            _ => Err(invalid(&attr.name, "a number")),
        },
        AttrType::DateTime => {
            let Some(s) = value.as_str() else {
                return Err(invalid(&attr.name, "an xsd:dateTime string"));
            };
            if crate::db::time::normalize_time(s).is_none() {
                return Err(invalid(
                    &attr.name,
                    "an xsd:dateTime such as 2026-01-31T12:00:00Z",
                ));
            }
            Ok(Some(value.clone()))
        }
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            coerce_string(value, &attr.name)
        }
    }
}

fn coerce_string(value: &Value, name: &str) -> ScimResult<Option<Value>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) if s.contains('\0') => Err(invalid(name, "text without NUL characters")),
        Value::String(_) => Ok(Some(value.clone())),
        _ => Err(invalid(name, "a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_what_idps_send() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:bogus"],
            "id": "ignored", "meta": {"resourceType": "User"},
            "UserName": "Ann@Example.com", "active": "False", "roles": [],
            "groups": [], "password": "pw", "nickName": null, "unknown": 1,
            "emails": [{"value": "a@x", "type": "work", "primary": true},
                       {"value": "b@x", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "manager": [{"value": "m1", "$ref": "x"}], "employeeNumber": "7"
            }
        });
        let inc = normalize(Kind::User, &body).unwrap();
        assert_eq!(inc.password.as_deref(), Some("pw"));
        let d = &inc.doc;
        assert_eq!(d["userName"], "Ann@Example.com");
        assert_eq!(d["active"], false);
        assert!(!d.contains_key("roles") && !d.contains_key("groups") && !d.contains_key("id"));
        assert_eq!(d["emails"][1]["primary"], false);
        let ext = &d["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
        assert_eq!(ext["manager"]["value"], "m1");
    }

    #[test]
    fn a_bare_string_is_the_value_of_a_complex_attribute() {
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let inc = normalize(
            Kind::User,
            &json!({"userName": "a", ext: {"manager": "m1"}}),
        )
        .unwrap();
        assert_eq!(inc.doc[ext]["manager"], json!({"value": "m1"}));
    }

    #[test]
    fn rejects_missing_required_and_bad_types() {
        let e = normalize(Kind::User, &json!({"name": {}})).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = normalize(Kind::User, &json!({"userName": "a", "active": 3})).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = normalize(Kind::User, &json!([1])).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    }
}
