//! What an entry says a request changed: the attributes a create, replace or PATCH names,
//! the members added and removed, the operations of a Bulk. Values are shown only for a few
//! harmless attributes; a password is named and redacted.

use super::clip;
use serde_json::Value;

/// Attributes whose values an entry shows; every other attribute is named without its value.
const SHOWN: &[&str] = &["userName", "displayName", "externalId", "active"];

fn show(attr: &str, v: &Value) -> String {
    let base = attr.split(['.', '[']).next().unwrap_or(attr);
    if base.eq_ignore_ascii_case("password") {
        return format!("{base} (redacted)");
    }
    match SHOWN.iter().find(|s| s.eq_ignore_ascii_case(base)) {
        Some(_) if !v.is_object() && !v.is_array() => {
            format!("{attr}={}", clip(&v.to_string(), 80))
        }
        _ => attr.to_owned(),
    }
}

/// The attribute list of a created or replaced resource.
pub fn describe_resource(verb: &str, body: &Value) -> String {
    let Some(obj) = body.as_object() else {
        return verb.to_owned();
    };
    let mut parts = Vec::new();
    for (k, v) in obj {
        if k == "schemas" || k == "id" || k == "meta" {
            continue;
        }
        if k == "members" {
            let n = v.as_array().map_or(0, Vec::len);
            parts.push(format!("members ({n})"));
        } else if k.starts_with("urn:") {
            let names: Vec<String> = v
                .as_object()
                .map(|o| o.iter().map(|(k2, v2)| show(k2, v2)).collect())
                .unwrap_or_default();
            parts.push(format!("extension ({})", names.join(", ")));
        } else {
            parts.push(show(k, v));
        }
    }
    format!("{verb}: {}", parts.join(", "))
}

fn member_ids(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn listed(ids: &[String]) -> String {
    let shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
    let more = ids.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// What a PATCH does, operation by operation: attributes added, replaced and removed, members
/// added and removed.
pub fn describe_patch(body: &Value) -> String {
    let Some(ops) = body.get("Operations").and_then(Value::as_array) else {
        return "patched".into();
    };
    let mut parts = Vec::new();
    for op in ops {
        let verb = op
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_ascii_lowercase();
        let path = op.get("path").and_then(Value::as_str);
        let value = op.get("value").unwrap_or(&Value::Null);
        match (verb.as_str(), path) {
            ("add", Some(p)) if p.eq_ignore_ascii_case("members") => {
                let ids = member_ids(value);
                parts.push(format!("members added ({}): {}", ids.len(), listed(&ids)));
            }
            ("remove", Some(p)) if p.to_ascii_lowercase().starts_with("members") => {
                let ids = member_ids(value);
                let ids = if ids.is_empty() {
                    // remove members[value eq "id"]
                    p.split('"')
                        .nth(1)
                        .map(|s| vec![s.to_owned()])
                        .unwrap_or_default()
                } else {
                    ids
                };
                if ids.is_empty() {
                    parts.push("all members removed".into());
                } else {
                    parts.push(format!("members removed ({}): {}", ids.len(), listed(&ids)));
                }
            }
            ("replace", Some(p)) if p.eq_ignore_ascii_case("members") => {
                let ids = member_ids(value);
                parts.push(format!(
                    "members replaced ({}): {}",
                    ids.len(),
                    listed(&ids)
                ));
            }
            ("remove", Some(p)) => parts.push(format!("removed {p}")),
            (v, Some(p)) => parts.push(format!("{v} {}", show(p, value))),
            (v, None) => {
                let names: Vec<String> = value
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, x)| {
                                if k.eq_ignore_ascii_case("members") {
                                    format!("members ({})", member_ids(x).len())
                                } else {
                                    show(k, x)
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                parts.push(format!("{v} {}", names.join(", ")));
            }
        }
    }
    parts.join("; ")
}

/// What a Bulk request asks for.
pub fn describe_bulk(body: &Value) -> String {
    let ops = body
        .get("Operations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let each: Vec<String> = ops
        .iter()
        .take(20)
        .map(|o| {
            format!(
                "{} {}",
                o.get("method").and_then(Value::as_str).unwrap_or("?"),
                o.get("path").and_then(Value::as_str).unwrap_or("?")
            )
        })
        .collect();
    let more = ops.len().saturating_sub(each.len());
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "bulk of {} operations: {}{tail}",
        ops.len(),
        each.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summaries_name_changes_and_never_carry_secrets() {
        let created = describe_resource(
            "created",
            &json!({"schemas": [], "userName": "ada", "password": "hunter2-secret", "active": true, "name": {"givenName": "Ada"}}),
        );
        assert_eq!(
            created,
            "created: userName=\"ada\", password (redacted), active=true, name"
        );
        let patched = describe_patch(&json!({"Operations": [
            {"op": "Replace", "path": "active", "value": false},
            {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
            {"op": "remove", "path": "members[value eq \"u3\"]"},
            {"op": "replace", "value": {"password": "s3cret!", "displayName": "Ada L"}},
            {"op": "remove", "path": "title"},
        ]}));
        assert_eq!(
            patched,
            "replace active=false; members added (2): u1, u2; members removed (1): u3; \
             replace password (redacted), displayName=\"Ada L\"; removed title"
        );
        assert!(!patched.contains("s3cret") && !created.contains("hunter2"));
    }
}
