//! How PATCH changes the values in a document: finding an attribute's object (the document or
//! its extension), setting and removing plain values and sub-attributes, value-path filters
//! that select, create or remove elements, and the immutability check.

use super::{invalid_path, mutability, OpKind};
use crate::scim::error::{ScimError, ScimResult, ScimType};
use crate::scim::filter::{self, AttrPath, CompValue, CompareOp, Filter};
use crate::scim::resource::{coerce, one_primary, Doc};
use crate::scim::schema::{AttrType, Attribute, Mutability};
use serde_json::{Map, Value};

/// The object an attribute lives in: the document, or its extension object (created on demand).
pub(super) fn container<'a>(
    doc: &'a mut Doc,
    ext: Option<&str>,
    create: bool,
) -> Option<&'a mut Doc> {
    let Some(urn) = ext else { return Some(doc) };
    if create && !doc.contains_key(urn) {
        doc.insert(urn.to_owned(), Value::Object(Map::new()));
    }
    doc.get_mut(urn).and_then(Value::as_object_mut)
}

/// Drops an extension object left empty.
pub(super) fn tidy(doc: &mut Doc, ext: Option<&str>) {
    if let Some(urn) = ext {
        if doc
            .get(urn)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            doc.remove(urn);
        }
    }
}

pub(super) fn check_immutable(
    before: &Doc,
    after: &Doc,
    ext: Option<&str>,
    attr: &Attribute,
) -> ScimResult<()> {
    let get = |d: &Doc| -> Option<Value> {
        let c = match ext {
            Some(u) => d.get(u)?.as_object()?,
            None => d,
        };
        c.get(&attr.name).cloned()
    };
    if attr.mutability == Mutability::Immutable {
        if let (Some(old), new) = (get(before), get(after)) {
            if Some(&old) != new.as_ref() {
                return Err(mutability(format!("{} is immutable", attr.name)));
            }
        }
    }
    Ok(())
}

/// add/replace without a filter.
pub(super) fn set_plain(
    obj: &mut Doc,
    kind: OpKind,
    attr: &Attribute,
    sub: Option<&Attribute>,
    value: Option<&Value>,
) -> ScimResult<()> {
    let value = value.unwrap_or(&Value::Null);
    if let Some(sub) = sub {
        let v = coerce(sub, value)?;
        if attr.multi_valued {
            let items = obj
                .entry(attr.name.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = items {
                if items.is_empty() {
                    items.push(Value::Object(Map::new()));
                }
                items.iter_mut().for_each(|e| set_sub(e, sub, v.clone()));
            }
        } else {
            let o = obj
                .entry(attr.name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            set_sub(o, sub, v);
        }
        drop_empty(obj, attr);
        return Ok(());
    }
    let Some(new) = coerce(attr, value)? else {
        obj.remove(&attr.name);
        return Ok(());
    };
    match (attr.multi_valued, attr.kind, obj.get_mut(&attr.name)) {
        (true, _, Some(Value::Array(items))) if kind == OpKind::Add => {
            let Value::Array(new_items) = new else {
                return Ok(());
            };
            for item in new_items {
                if !items.contains(&item) {
                    items.push(item);
                }
            }
            let newest = items
                .iter()
                .rposition(|v| v.get("primary") == Some(&Value::Bool(true)));
            one_primary(items, newest);
        }
        (false, AttrType::Complex, Some(Value::Object(existing))) => {
            if let Value::Object(parts) = new {
                existing.extend(parts);
            }
        }
        _ => {
            obj.insert(attr.name.clone(), new);
        }
    }
    Ok(())
}

pub(super) fn set_sub(element: &mut Value, sub: &Attribute, v: Option<Value>) {
    if let Value::Object(o) = element {
        match v {
            Some(v) => o.insert(sub.name.clone(), v),
            None => o.remove(&sub.name),
        };
    }
}

/// Removes empty objects from a complex attribute, and the attribute when nothing is left.
pub(super) fn drop_empty(obj: &mut Doc, attr: &Attribute) {
    let empty = match obj.get_mut(&attr.name) {
        Some(Value::Array(items)) => {
            items.retain(|v| !v.as_object().is_some_and(Map::is_empty));
            items.is_empty()
        }
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        obj.remove(&attr.name);
    }
}

/// remove without a filter.
pub(super) fn remove_plain(
    obj: &mut Doc,
    attr: &Attribute,
    sub: Option<&Attribute>,
    value: Option<&Value>,
) -> ScimResult<()> {
    match sub {
        None if attr.required => Err(mutability(format!("{} is required", attr.name))),
        None => {
            // `remove emails` with a value list removes just those values.
            match (obj.get_mut(&attr.name), value.filter(|v| !v.is_null())) {
                (Some(Value::Array(items)), Some(v)) if attr.multi_valued => {
                    let gone = coerce(attr, v)?.unwrap_or(Value::Array(Vec::new()));
                    let gone = gone.as_array().cloned().unwrap_or_default();
                    items.retain(|item| !gone.iter().any(|g| same_value(item, g)));
                    drop_empty(obj, attr);
                }
                _ => {
                    obj.remove(&attr.name);
                }
            }
            Ok(())
        }
        Some(sub) if sub.required => Err(mutability(format!(
            "{}.{} is required",
            attr.name, sub.name
        ))),
        Some(sub) => {
            match obj.get_mut(&attr.name) {
                Some(Value::Array(items)) => items.iter_mut().for_each(|e| set_sub(e, sub, None)),
                Some(o) => set_sub(o, sub, None),
                None => {}
            }
            drop_empty(obj, attr);
            Ok(())
        }
    }
}

pub(super) fn same_value(item: &Value, gone: &Value) -> bool {
    match (item.get("value"), gone.get("value")) {
        (Some(a), Some(b)) => a == b,
        _ => item == gone,
    }
}

/// add/replace/remove at `attr[filter]` or `attr[filter].sub`.
pub(super) fn with_filter(
    obj: &mut Doc,
    kind: OpKind,
    attr: &Attribute,
    sub: Option<&Attribute>,
    filter: &Filter,
    value: Option<&Value>,
) -> ScimResult<()> {
    if attr.kind != AttrType::Complex {
        return Err(invalid_path(format!(
            "{} is not a complex attribute",
            attr.name
        )));
    }
    let case_exact = |p: &AttrPath| attr.sub(&p.name).is_some_and(|s| s.case_exact);
    let hits: Vec<usize> = match obj.get(&attr.name) {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter(|(_, e)| filter::matches(filter, e, &case_exact))
            .map(|(i, _)| i)
            .collect(),
        Some(single) if filter::matches(filter, single, &case_exact) => vec![0],
        _ => Vec::new(),
    };
    if kind == OpKind::Remove {
        remove_hits(obj, attr, sub, &hits);
        return Ok(());
    }
    let value = value.unwrap_or(&Value::Null);
    let patch = match sub {
        Some(s) => {
            let mut m = Map::new();
            m.insert(s.name.clone(), coerce(s, value)?.unwrap_or(Value::Null));
            m
        }
        None => match coerce(
            &Attribute {
                multi_valued: false,
                ..attr.clone()
            },
            value,
        )? {
            Some(Value::Object(m)) => m,
            _ => {
                return Err(ScimError::bad(
                    ScimType::InvalidValue,
                    format!("{} needs an object value", attr.name),
                ))
            }
        },
    };
    if hits.is_empty() {
        if kind == OpKind::Replace {
            return Err(ScimError::bad(
                ScimType::NoTarget,
                format!("no {} value matches the filter", attr.name),
            ));
        }
        // Entra's validator adds `emails[type eq "home"].value`: create that element.
        let mut element = literals(filter, attr).ok_or_else(|| {
            ScimError::bad(
                ScimType::NoTarget,
                format!("no {} value matches the filter", attr.name),
            )
        })?;
        element.extend(patch);
        element.retain(|_, v| !v.is_null());
        let items = obj
            .entry(attr.name.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = items {
            items.push(Value::Object(element));
            let last = items.len() - 1;
            one_primary(items, Some(last));
        }
        return Ok(());
    }
    let mut newest = None;
    if let Some(Value::Array(items)) = obj.get_mut(&attr.name) {
        for &i in &hits {
            if let Some(Value::Object(e)) = items.get_mut(i) {
                for (k, v) in &patch {
                    match v {
                        Value::Null => e.remove(k),
                        v => e.insert(k.clone(), v.clone()),
                    };
                }
                if e.get("primary") == Some(&Value::Bool(true)) {
                    newest = Some(i);
                }
            }
        }
        one_primary(items, newest);
    } else if let Some(Value::Object(e)) = obj.get_mut(&attr.name) {
        e.extend(patch);
    }
    drop_empty(obj, attr);
    Ok(())
}

pub(super) fn remove_hits(
    obj: &mut Doc,
    attr: &Attribute,
    sub: Option<&Attribute>,
    hits: &[usize],
) {
    match obj.get_mut(&attr.name) {
        Some(Value::Array(items)) => {
            let mut i = 0;
            items.retain_mut(|e| {
                let hit = hits.contains(&i);
                i += 1;
                match (hit, sub) {
                    (true, Some(s)) => {
                        set_sub(e, s, None);
                        true
                    }
                    (true, None) => false,
                    (false, _) => true,
                }
            });
        }
        Some(single) if !hits.is_empty() => match sub {
            Some(s) => set_sub(single, s, None),
            None => {
                obj.remove(&attr.name);
            }
        },
        _ => {}
    }
    drop_empty(obj, attr);
}

/// The element a filter of `eq` tests joined by `and` describes: `type eq "home"` → `{"type":
/// "home"}`. None when the filter says more than that.
pub(super) fn literals(f: &Filter, attr: &Attribute) -> Option<Map<String, Value>> {
    match f {
        Filter::And(a, b) => {
            let mut m = literals(a, attr)?;
            m.extend(literals(b, attr)?);
            Some(m)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => {
            let sub = attr.sub(&path.name)?;
            let v = match value {
                CompValue::Str(s) => Value::from(s.as_str()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Num(n, _) => serde_json::Number::from_f64(*n).map(Value::Number)?,
                CompValue::Null => return None,
            };
            let mut m = Map::new();
            m.insert(sub.name.clone(), coerce(sub, &v).ok()??);
            Some(m)
        }
        _ => None,
    }
}
