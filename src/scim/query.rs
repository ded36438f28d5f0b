//! SCIM filters compiled to SQL over the `attrs` index (see `index.rs`), identical
//! on SQLite and PostgreSQL but for the placeholder syntax. Every attribute test becomes
//! `r.id IN (SELECT resource_id FROM attrs WHERE tenant_id = ? AND rtype = ? AND path = ? AND
//! val = ?)`, which both planners answer from the `(tenant_id, rtype, path, val)` index, so an
//! equality filter costs the same at a thousand users as at a million. Value paths
//! (`emails[type eq "work" and value co "@x"]`) correlate sub-attribute rows on the element
//! number of the attribute's anchor row. Nothing is matched in memory.

use super::error::{ScimError, ScimResult, ScimType};
use super::filter::{AttrPath, CompValue, CompareOp, Filter};
use super::schema::{AttrType, Attribute, Common, Kind, Target, REGISTRY};
use crate::db::sql::{Bind, Builder};
use crate::db::text::{fold, norm_str};
use crate::db::time::normalize_time;
use crate::ids::TenantId;

/// Which rows a leaf test is written against.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// The resource row `r`.
    Top,
    /// One membership row alias, for `members[...]` / `groups[...]`.
    Member(&'a str, Kind),
}

/// Compiles `filter` into a boolean SQL expression over `r`, the resource table of `kind`.
pub struct FilterCompiler<'b> {
    pub b: &'b mut Builder,
    pub tenant: &'b TenantId,
    pub kind: Kind,
}

fn bad_filter(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidFilter, detail)
}

fn show(p: &AttrPath) -> String {
    let mut s = String::new();
    if let Some(u) = &p.urn {
        s.push_str(u);
        s.push(':');
    }
    s.push_str(&p.name);
    if let Some(sub) = &p.sub {
        s.push('.');
        s.push_str(sub);
    }
    s
}

impl FilterCompiler<'_> {
    /// Writes the SQL for `f`.
    ///
    /// # Errors
    /// `invalidFilter` for unknown attributes or operators that do not apply to a type.
    pub fn compile(&mut self, f: &Filter) -> ScimResult<()> {
        self.node(f, Scope::Top)
    }

    fn node(&mut self, f: &Filter, scope: Scope<'_>) -> ScimResult<()> {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => {
                let op = if matches!(f, Filter::And(..)) {
                    " AND "
                } else {
                    " OR "
                };
                self.b.push("(");
                self.node(a, scope)?;
                self.b.push(op);
                self.node(b, scope)?;
                self.b.push(")");
            }
            Filter::Not(inner) => {
                self.b.push("NOT (");
                self.node(inner, scope)?;
                self.b.push(")");
            }
            Filter::Present(path) => self.leaf(path, None, scope)?,
            Filter::Compare { path, op, value } => match (op, value) {
                (CompareOp::Eq, CompValue::Null) => {
                    self.b.push("NOT (");
                    self.leaf(path, None, scope)?;
                    self.b.push(")");
                }
                (CompareOp::Ne, CompValue::Null) => self.leaf(path, None, scope)?,
                (CompareOp::Ne, v) => {
                    self.b.push("NOT (");
                    self.leaf(path, Some((CompareOp::Eq, v)), scope)?;
                    self.b.push(")");
                }
                (op, v) => self.leaf(path, Some((*op, v)), scope)?,
            },
            Filter::ValuePath { path, filter } => {
                if !matches!(scope, Scope::Top) {
                    return Err(bad_filter("value paths cannot be nested"));
                }
                self.value_path(path, filter)?;
            }
        }
        Ok(())
    }

    /// One attribute test; `cmp` is `None` for `pr`.
    fn leaf(
        &mut self,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
        scope: Scope<'_>,
    ) -> ScimResult<()> {
        match scope {
            Scope::Top => self.top_leaf(path, cmp),
            Scope::Member(m, kind) => {
                let column = member_column(kind, path)?;
                match cmp {
                    None => {
                        self.b.push(&format!("{m}.{column} IS NOT NULL"));
                    }
                    Some((op, v)) => {
                        let s = as_text(v, true);
                        self.string_cond(&format!("{m}.{column}"), op, s)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn top_leaf(
        &mut self,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> ScimResult<()> {
        let target = REGISTRY
            .resolve(self.kind, path)
            .ok_or_else(|| bad_filter(format!("unknown attribute {}", show(path))))?;
        let (ext, attr, sub) = match target {
            Target::Common(c) => return self.common_leaf(c, cmp),
            Target::Attr {
                extension,
                attr,
                sub,
            } => (extension, attr, sub),
        };
        if is_membership(self.kind, attr) {
            let inner = AttrPath {
                urn: None,
                name: sub.map_or("value", |s| s.name.as_str()).to_owned(),
                sub: None,
            };
            let m = self.membership_open(attr)?;
            self.leaf(&inner, cmp, Scope::Member(&m, self.kind))?;
            self.b.push(")");
            return Ok(());
        }
        // `emails co "x"` means `emails.value co "x"`; `name pr` means any part of name.
        let leaf = match (sub, cmp) {
            (Some(s), _) => s,
            (None, None) => attr,
            (None, Some(_)) if attr.kind == AttrType::Complex => attr
                .sub("value")
                .ok_or_else(|| bad_filter(format!("{} needs a sub-attribute", attr.name)))?,
            (None, Some(_)) => attr,
        };
        let sub_name = (!std::ptr::eq(leaf, attr)).then_some(leaf.name.as_str());
        let a = self.b.alias();
        self.b.push(&format!(
            "r.id IN (SELECT {a}.resource_id FROM attrs {a} WHERE "
        ));
        self.attrs_scope(&a, super::schema::index_path(ext, &attr.name, sub_name));
        if let Some((op, v)) = cmp {
            self.b.push(" AND ");
            self.value_cond(&a, leaf, op, v)?;
        }
        self.b.push(")");
        Ok(())
    }

    fn common_leaf(&mut self, c: Common, cmp: Option<(CompareOp, &CompValue)>) -> ScimResult<()> {
        let column = match c {
            Common::Id => "r.id",
            Common::ExternalId => "r.external_id",
            Common::Created => "r.created_at",
            Common::LastModified => "r.updated_at",
            Common::Meta => "r.id",
            Common::ResourceType => {
                let hit = match cmp {
                    None => true,
                    Some((CompareOp::Eq, CompValue::Str(s))) => s == self.kind.name(),
                    Some(_) => false,
                };
                self.b.push(if hit { "1 = 1" } else { "1 = 0" });
                return Ok(());
            }
            Common::Location | Common::Version => {
                return Err(bad_filter(
                    "meta.location and meta.version cannot be filtered",
                ))
            }
        };
        let Some((op, v)) = cmp else {
            self.b.push(&format!("{column} IS NOT NULL"));
            return Ok(());
        };
        let text = match c {
            Common::Created | Common::LastModified => {
                let CompValue::Str(s) = v else {
                    return Err(bad_filter("meta dates compare with a dateTime string"));
                };
                if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                    return Err(bad_filter("co, sw and ew do not apply to dateTime"));
                }
                normalize_time(s).ok_or_else(|| bad_filter(format!("{s} is not a dateTime")))?
            }
            _ => as_text(v, true),
        };
        self.string_cond(column, op, text)
    }

    /// Opens `r.id IN (SELECT ... FROM members m WHERE m.tenant_id = ? AND ` and returns `m`;
    /// the caller writes the member condition and closes the parenthesis.
    fn membership_open(&mut self, attr: &Attribute) -> ScimResult<String> {
        let m = self.b.alias();
        let (select, _) = membership_columns(self.kind, attr)?;
        self.b.push(&format!(
            "r.id IN (SELECT {m}.{select} FROM members {m} WHERE {m}.tenant_id = "
        ));
        self.b.text(self.tenant);
        self.b.push(" AND ");
        Ok(m)
    }

    fn value_path(&mut self, path: &AttrPath, filter: &Filter) -> ScimResult<()> {
        let target = REGISTRY
            .resolve(self.kind, path)
            .ok_or_else(|| bad_filter(format!("unknown attribute {}", show(path))))?;
        let Target::Attr {
            extension,
            attr,
            sub: None,
        } = target
        else {
            return Err(bad_filter(format!(
                "{} is not a complex attribute",
                show(path)
            )));
        };
        if attr.kind != AttrType::Complex {
            return Err(bad_filter(format!(
                "{} is not a complex attribute",
                attr.name
            )));
        }
        if is_membership(self.kind, attr) {
            let m = self.membership_open(attr)?;
            self.node(filter, Scope::Member(&m, self.kind))?;
            self.b.push(")");
            return Ok(());
        }
        let v = self.b.alias();
        self.b.push("r.id IN (SELECT ");
        self.b.push(&format!("{v}.resource_id FROM ("));
        self.elements(filter, extension, attr)?;
        self.b.push(&format!(") {v})"));
        Ok(())
    }

    /// Writes a SELECT of the `(resource_id, elem)` pairs: the elements of `attr` that `f`
    /// matches. `and`/`or`/`not` become INTERSECT/UNION/EXCEPT of index lookups, so a value
    /// path is driven by its values (`emails[type eq "work"].value eq "x"` starts from the
    /// rows whose value is "x"), never by a scan of every element in the tenant.
    fn elements(
        &mut self,
        f: &Filter,
        ext: Option<&'static str>,
        attr: &Attribute,
    ) -> ScimResult<()> {
        match f {
            Filter::And(a, b) => self.compound(a, "INTERSECT", b, ext, attr),
            Filter::Or(a, b) => self.compound(a, "UNION", b, ext, attr),
            Filter::Not(inner) => self.complement(inner, ext, attr),
            Filter::Present(p) => self.element_rows(p, None, ext, attr),
            Filter::Compare { path, op, value } => match (op, value) {
                (CompareOp::Eq, CompValue::Null) => {
                    self.complement(&Filter::Present(path.clone()), ext, attr)
                }
                (CompareOp::Ne, CompValue::Null) => self.element_rows(path, None, ext, attr),
                (CompareOp::Ne, v) => {
                    let eq = Filter::Compare {
                        path: path.clone(),
                        op: CompareOp::Eq,
                        value: v.clone(),
                    };
                    self.complement(&eq, ext, attr)
                }
                (op, v) => self.element_rows(path, Some((*op, v)), ext, attr),
            },
            Filter::ValuePath { .. } => Err(bad_filter("value paths cannot be nested")),
        }
    }

    fn compound(
        &mut self,
        a: &Filter,
        op: &str,
        b: &Filter,
        ext: Option<&'static str>,
        attr: &Attribute,
    ) -> ScimResult<()> {
        // Each side is wrapped in a derived table: SQLite allows no parentheses around the
        // members of a compound SELECT.
        let (l, r) = (self.b.alias(), self.b.alias());
        self.b
            .push(&format!("SELECT {l}.resource_id, {l}.elem FROM ("));
        self.elements(a, ext, attr)?;
        self.b.push(&format!(
            ") {l} {op} SELECT {r}.resource_id, {r}.elem FROM ("
        ));
        self.elements(b, ext, attr)?;
        self.b.push(&format!(") {r}"));
        Ok(())
    }

    /// Every element of `attr` (its anchor rows) except those `f` matches.
    fn complement(
        &mut self,
        f: &Filter,
        ext: Option<&'static str>,
        attr: &Attribute,
    ) -> ScimResult<()> {
        let (all, hit) = (self.b.alias(), self.b.alias());
        self.b.push(&format!(
            "SELECT {all}.resource_id, {all}.elem FROM attrs {all} WHERE "
        ));
        self.attrs_scope(&all, super::schema::index_path(ext, &attr.name, None));
        self.b.push(&format!(
            " EXCEPT SELECT {hit}.resource_id, {hit}.elem FROM ("
        ));
        self.elements(f, ext, attr)?;
        self.b.push(&format!(") {hit}"));
        Ok(())
    }

    /// The elements whose sub-attribute `path` is present (`cmp` None) or compares true.
    fn element_rows(
        &mut self,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
        ext: Option<&'static str>,
        attr: &Attribute,
    ) -> ScimResult<()> {
        if path.sub.is_some() || path.urn.is_some() {
            return Err(bad_filter(format!("{} is not a sub-attribute", show(path))));
        }
        let sub = attr.sub(&path.name).ok_or_else(|| {
            bad_filter(format!("{} has no sub-attribute {}", attr.name, path.name))
        })?;
        let a = self.b.alias();
        self.b.push(&format!(
            "SELECT {a}.resource_id, {a}.elem FROM attrs {a} WHERE "
        ));
        self.attrs_scope(
            &a,
            super::schema::index_path(ext, &attr.name, Some(&sub.name)),
        );
        if let Some((op, v)) = cmp {
            self.b.push(" AND ");
            self.value_cond(&a, sub, op, v)?;
        }
        Ok(())
    }

    /// `a.tenant_id = ? AND a.rtype = ? AND a.path = ?`: the prefix of `attrs_lookup`.
    fn attrs_scope(&mut self, a: &str, path: String) {
        self.b.push(&format!("{a}.tenant_id = ")).text(self.tenant);
        self.b
            .push(&format!(" AND {a}.rtype = "))
            .text(self.kind.name());
        self.b.push(&format!(" AND {a}.path = ")).text(path);
    }

    /// The comparison of one attrs row `a` against a literal, by the attribute's type.
    fn value_cond(
        &mut self,
        a: &str,
        attr: &Attribute,
        op: CompareOp,
        v: &CompValue,
    ) -> ScimResult<()> {
        match attr.kind {
            AttrType::Boolean => {
                let b = match v {
                    CompValue::Bool(b) => *b,
                    CompValue::Str(s) if s.eq_ignore_ascii_case("true") => true,
                    CompValue::Str(s) if s.eq_ignore_ascii_case("false") => false,
                    _ => {
                        return Err(bad_filter(format!(
                            "{} compares with true or false",
                            attr.name
                        )))
                    }
                };
                if op != CompareOp::Eq {
                    return Err(bad_filter(format!(
                        "{} is a boolean: only eq, ne and pr apply",
                        attr.name
                    )));
                }
                self.b.push(&format!("{a}.val = "));
                self.b.text(b.to_string());
                Ok(())
            }
            AttrType::Integer | AttrType::Decimal => {
                let n = match v {
                    CompValue::Num(n, _) => *n,
                    CompValue::Str(s) => s
                        .trim()
                        .parse::<f64>()
                        .map_err(|_| bad_filter(format!("{} compares with a number", attr.name)))?,
                    _ => return Err(bad_filter(format!("{} compares with a number", attr.name))),
                };
                let sql_op = ordering_op(op).ok_or_else(|| {
                    bad_filter(format!(
                        "{} is a number: co, sw and ew do not apply",
                        attr.name
                    ))
                })?;
                self.b.push(&format!("{a}.num {sql_op} "));
                self.b.bind(Bind::Num(n));
                Ok(())
            }
            AttrType::DateTime => {
                let CompValue::Str(s) = v else {
                    return Err(bad_filter(format!(
                        "{} compares with a dateTime string",
                        attr.name
                    )));
                };
                let t = normalize_time(s)
                    .ok_or_else(|| bad_filter(format!("{s} is not a dateTime")))?;
                if ordering_op(op).is_none() {
                    return Err(bad_filter("co, sw and ew do not apply to dateTime"));
                }
                self.string_cond(&format!("{a}.val"), op, t)
            }
            AttrType::Binary if op != CompareOp::Eq => Err(bad_filter(format!(
                "{} is binary: only eq, ne and pr apply",
                attr.name
            ))),
            _ => {
                let s = match v {
                    CompValue::Str(s) => norm_str(s, attr.case_exact),
                    other => as_text(other, attr.case_exact),
                };
                self.string_cond(&format!("{a}.val"), op, s)
            }
        }
    }

    /// `column op literal` for text, with LIKE patterns for co/sw/ew (case-sensitive on both
    /// backends: values are already folded where the attribute is caseExact=false).
    fn string_cond(&mut self, column: &str, op: CompareOp, s: String) -> ScimResult<()> {
        let (sql_op, pattern) = match op {
            CompareOp::Co => ("LIKE", format!("%{}%", escape_like(&s))),
            CompareOp::Sw => ("LIKE", format!("{}%", escape_like(&s))),
            CompareOp::Ew => ("LIKE", format!("%{}", escape_like(&s))),
            other => (ordering_op(other).unwrap_or("="), s),
        };
        self.b.push(&format!("{column} {sql_op} "));
        self.b.text(pattern);
        if sql_op == "LIKE" {
            self.b.push(" ESCAPE '\\'");
        }
        Ok(())
    }
}

fn ordering_op(op: CompareOp) -> Option<&'static str> {
    Some(match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => return None,
    })
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn as_text(v: &CompValue, case_exact: bool) -> String {
    let s = match v {
        CompValue::Str(s) => s.clone(),
        CompValue::Num(_, raw) => raw.clone(),
        CompValue::Bool(b) => b.to_string(),
        CompValue::Null => String::new(),
    };
    if case_exact {
        s
    } else {
        fold(&s)
    }
}

/// `members` of a Group and `groups` of a User live in the `members` table, not in `attrs`.
fn is_membership(kind: Kind, attr: &Attribute) -> bool {
    matches!(
        (kind, attr.name.as_str()),
        (Kind::Group, "members") | (Kind::User, "groups")
    )
}

/// (column selected as the resource id, column holding the other side).
fn membership_columns(kind: Kind, attr: &Attribute) -> ScimResult<(&'static str, &'static str)> {
    match (kind, attr.name.as_str()) {
        (Kind::Group, "members") => Ok(("group_id", "member_id")),
        (Kind::User, "groups") => Ok(("member_id", "group_id")),
        _ => Err(bad_filter(format!(
            "{} is not a membership attribute",
            attr.name
        ))),
    }
}

fn member_column(kind: Kind, path: &AttrPath) -> ScimResult<&'static str> {
    let name = path.name.to_ascii_lowercase();
    match (kind, name.as_str()) {
        (Kind::Group, "value") => Ok("member_id"),
        (Kind::Group, "type") => Ok("member_type"),
        (Kind::User, "value") => Ok("group_id"),
        _ => Err(bad_filter(format!(
            "{} cannot be filtered on membership",
            path.name
        ))),
    }
}
