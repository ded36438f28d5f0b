//! `sortBy` as SQL: an attribute's first (or primary) value from the `attrs` index, the same
//! expression on both backends.

use super::error::{ScimError, ScimResult, ScimType};
use super::filter::parse_path;
use super::schema::{index_path, AttrType, Common, Kind, Target, REGISTRY};

/// The SQL expression to sort by for `sortBy`. It carries no placeholders (the index path is a
/// schema name, inlined as a literal) so it can appear twice in an ORDER BY.
///
/// # Errors
/// `invalidValue` for an attribute that does not exist.
pub fn sort_expr(kind: Kind, sort_by: &str) -> ScimResult<String> {
    let path = parse_path(sort_by)
        .map_err(|e| ScimError::bad(ScimType::InvalidValue, format!("sortBy: {e}")))?
        .attr;
    let target = REGISTRY.resolve(kind, &path).ok_or_else(|| {
        ScimError::bad(
            ScimType::InvalidValue,
            format!("sortBy: unknown attribute {sort_by}"),
        )
    })?;
    let (ext, attr, sub) = match target {
        Target::Common(c) => {
            return Ok(match c {
                Common::ExternalId => "r.external_id",
                Common::Created | Common::Meta => "r.created_at",
                Common::LastModified => "r.updated_at",
                _ => "r.id",
            }
            .to_owned());
        }
        Target::Attr {
            extension,
            attr,
            sub,
        } => (extension, attr, sub),
    };
    let leaf = match sub {
        Some(s) => s,
        None if attr.kind == AttrType::Complex => attr.sub("value").unwrap_or(attr),
        None => attr,
    };
    let sub_name = (!std::ptr::eq(leaf, attr)).then_some(leaf.name.as_str());
    let column = if matches!(leaf.kind, AttrType::Integer | AttrType::Decimal) {
        "num"
    } else {
        "val"
    };
    let quote = |p: String| p.replace('\'', "''");
    let path = quote(index_path(ext, &attr.name, sub_name));
    let first = format!(
        "(SELECT s.{column} FROM attrs s WHERE s.resource_id = r.id AND s.path = '{path}' \
         ORDER BY s.elem LIMIT 1)"
    );
    if !attr.multi_valued || attr.sub("primary").is_none() {
        return Ok(first);
    }
    // A multi-valued attribute sorts by its primary value, else its first (RFC 7644 §3.4.2.3).
    let primary = quote(index_path(ext, &attr.name, Some("primary")));
    Ok(format!(
        "COALESCE((SELECT s.{column} FROM attrs s JOIN attrs p ON p.resource_id = s.resource_id \
         AND p.elem = s.elem AND p.path = '{primary}' AND p.val = 'true' \
         WHERE s.resource_id = r.id AND s.path = '{path}'), {first})"
    ))
}
