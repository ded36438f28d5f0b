//! The filter index: every attribute value of a resource becomes a row
//! `(path, elem, val, num)` in `attrs`, rewritten on each write, so that any filter runs as
//! indexed SQL on both backends (see `query.rs`). `val` holds strings lower-cased and
//! NFC-normalised for `caseExact=false` attributes and as-is otherwise, booleans as
//! `true`/`false`, dateTimes in one fixed UTC format (so text order is time order); `num` holds
//! numbers. Each element of a complex attribute also gets an anchor row (`val` NULL) at the
//! attribute's own path, which value-path filters correlate on through `elem`.

use super::resource::Doc;
use super::schema::{index_path, AttrType, Attribute, Kind, REGISTRY};
use crate::db::text::norm_str;
use crate::db::time::normalize_time;
use serde_json::Value;

/// One row of the `attrs` table, without the tenant and resource columns.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrRow {
    pub path: String,
    pub elem: i32,
    pub val: Option<String>,
    pub num: Option<f64>,
}

/// The normalised index value of a scalar for `attr`: `(val, num)`.
pub fn scalar(attr: &Attribute, v: &Value) -> Option<(Option<String>, Option<f64>)> {
    match (attr.kind, v) {
        (AttrType::Boolean, Value::Bool(b)) => Some((Some(b.to_string()), None)),
        (AttrType::Integer | AttrType::Decimal, Value::Number(n)) => {
            Some((Some(n.to_string()), n.as_f64()))
        }
        (AttrType::DateTime, Value::String(s)) => Some((normalize_time(s), None)),
        (_, Value::String(s)) => Some((Some(norm_str(s, attr.case_exact)), None)),
        _ => None,
    }
}

/// All index rows of a document.
pub fn rows(kind: Kind, doc: &Doc) -> Vec<AttrRow> {
    let mut out = Vec::new();
    let add_schema = |ext: Option<&str>, urn: &str, obj: &Doc, out: &mut Vec<AttrRow>| {
        let Some(schema) = REGISTRY.schema(urn) else {
            return;
        };
        for attr in &schema.attributes {
            if let Some(v) = obj.get(&attr.name) {
                push_attr(ext, attr, v, out);
            }
        }
    };
    add_schema(None, kind.core_urn(), doc, &mut out);
    for urn in kind.extension_urns() {
        if let Some(Value::Object(ext)) = doc.get(*urn) {
            add_schema(Some(urn), urn, ext, &mut out);
        }
    }
    out
}

fn push_attr(ext: Option<&str>, attr: &Attribute, v: &Value, out: &mut Vec<AttrRow>) {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let path = index_path(ext, &attr.name, None);
    for (i, item) in items.into_iter().enumerate() {
        let elem = i32::try_from(i).unwrap_or(i32::MAX);
        if attr.kind == AttrType::Complex {
            out.push(AttrRow {
                path: path.clone(),
                elem,
                val: None,
                num: None,
            });
            let Some(obj) = item.as_object() else {
                continue;
            };
            for sub in &attr.sub_attributes {
                if let Some((val, num)) = obj.get(&sub.name).and_then(|sv| scalar(sub, sv)) {
                    out.push(AttrRow {
                        path: index_path(ext, &attr.name, Some(&sub.name)),
                        elem,
                        val,
                        num,
                    });
                }
            }
        } else if let Some((val, num)) = scalar(attr, item) {
            out.push(AttrRow {
                path: path.clone(),
                elem,
                val,
                num,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_fold_case_and_anchor_elements() {
        let doc = json!({"userName": "Ann", "externalId": "X",
            "emails": [{"value": "A@X.org", "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "E7"}});
        let rows = rows(Kind::User, doc.as_object().unwrap());
        let find = |p: &str| rows.iter().find(|r| r.path == p).unwrap().val.clone();
        assert_eq!(find("username").as_deref(), Some("ann"));
        assert_eq!(find("emails"), None);
        assert_eq!(find("emails.value").as_deref(), Some("a@x.org"));
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:employeenumber";
        assert_eq!(find(ext).as_deref(), Some("e7"));
    }
}
