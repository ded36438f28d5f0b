//! The attribute registry, built from the JSON files in `scim-schemas/`: the one source of the
//! `type`, `caseExact`, `mutability` and `returned` rules that validation, filtering, PATCH and
//! the `/Schemas` endpoint all follow.

use super::filter::AttrPath;
use serde::Deserialize;
use serde_json::Value;
use std::sync::LazyLock;

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const SCHEMA_FILES: [&str; 6] = [
    include_str!("../../scim-schemas/user.json"),
    include_str!("../../scim-schemas/enterprise_user.json"),
    include_str!("../../scim-schemas/group.json"),
    include_str!("../../scim-schemas/service_provider_config.json"),
    include_str!("../../scim-schemas/resource_type.json"),
    include_str!("../../scim-schemas/schema.json"),
];
const RESOURCE_TYPES: &str = include_str!("../../scim-schemas/resource_types.json");

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// Whether and how a client may change an attribute (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// When an attribute appears in responses (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// One attribute definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttrType,
    pub multi_valued: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    #[serde(default)]
    pub sub_attributes: Vec<Attribute>,
}

impl Attribute {
    /// The sub-attribute called `name`, compared case-insensitively (RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn simple(name: &str, kind: AttrType, case_exact: bool, mutability: Mutability) -> Attribute {
        Attribute {
            name: name.to_owned(),
            kind,
            multi_valued: false,
            required: false,
            case_exact,
            mutability,
            returned: Returned::Default,
            sub_attributes: Vec::new(),
        }
    }
}

/// One schema: its URN, its attributes, and the JSON served at `/Schemas`.
#[derive(Debug, Clone)]
pub struct Schema {
    pub id: String,
    pub attributes: Vec<Attribute>,
    pub json: Value,
}

impl Schema {
    /// The top-level attribute called `name`, case-insensitively.
    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// The two kinds of SCIM resource muster serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    /// The resource type name (`meta.resourceType`, the `attrs.rtype` column).
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    /// The endpoint under a tenant's SCIM base.
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }

    /// The core schema URN.
    pub fn core_urn(self) -> &'static str {
        match self {
            Kind::User => USER_URN,
            Kind::Group => GROUP_URN,
        }
    }

    /// Extension schema URNs this kind accepts.
    pub fn extension_urns(self) -> &'static [&'static str] {
        match self {
            Kind::User => &[ENTERPRISE_URN],
            Kind::Group => &[],
        }
    }
}

/// Where a resolved path points.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A schema attribute, optionally one of its sub-attributes; `extension` is the URN when the
    /// attribute lives in an extension object.
    Attr {
        extension: Option<&'static str>,
        attr: &'a Attribute,
        sub: Option<&'a Attribute>,
    },
    /// `id`, `externalId` or a `meta` sub-attribute: kept in columns, not in the document.
    Common(Common),
}

/// The common attributes of RFC 7643 §3.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Common {
    Id,
    ExternalId,
    Meta,
    ResourceType,
    Created,
    LastModified,
    Location,
    Version,
}

impl<'a> Target<'a> {
    /// The attribute whose characteristics apply: the sub-attribute when one is named.
    pub fn leaf(&self) -> &'a Attribute {
        match self {
            Target::Attr { attr, sub, .. } => sub.unwrap_or(attr),
            Target::Common(c) => common_attr(*c),
        }
    }

    /// The lower-cased path under which `index.rs` stores this attribute's values:
    /// `emails.value`, or `<urn>:manager.value` for an extension.
    pub fn index_path(&self) -> String {
        match self {
            Target::Attr {
                extension,
                attr,
                sub,
            } => index_path(*extension, &attr.name, sub.map(|s| s.name.as_str())),
            Target::Common(_) => String::new(),
        }
    }
}

/// The index path for an attribute (see [`Target::index_path`]).
pub fn index_path(extension: Option<&str>, attr: &str, sub: Option<&str>) -> String {
    let mut p = String::new();
    if let Some(urn) = extension {
        p.push_str(&urn.to_ascii_lowercase());
        p.push(':');
    }
    p.push_str(&attr.to_ascii_lowercase());
    if let Some(s) = sub {
        p.push('.');
        p.push_str(&s.to_ascii_lowercase());
    }
    p
}

static COMMON: LazyLock<[Attribute; 8]> = LazyLock::new(|| {
    use AttrType::*;
    use Mutability::*;
    let mut id = Attribute::simple("id", String, true, ReadOnly);
    id.returned = Returned::Always;
    [
        id,
        Attribute::simple("externalId", String, true, ReadWrite),
        Attribute::simple("meta", Complex, false, ReadOnly),
        Attribute::simple("resourceType", String, true, ReadOnly),
        Attribute::simple("created", DateTime, false, ReadOnly),
        Attribute::simple("lastModified", DateTime, false, ReadOnly),
        Attribute::simple("location", Reference, true, ReadOnly),
        Attribute::simple("version", String, true, ReadOnly),
    ]
});

fn common_attr(c: Common) -> &'static Attribute {
    let i = c as usize;
    &COMMON[i]
}

/// All schemas and resource types, parsed once from the embedded JSON.
pub struct Registry {
    pub schemas: Vec<Schema>,
    pub resource_types: Vec<Value>,
}

/// The registry; its JSON is embedded at build time and checked by a unit test.
pub static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    #[expect(clippy::expect_used, reason = "embedded files, parsed in a unit test")]
    Registry::load().expect("scim-schemas/*.json are valid")
});

impl Registry {
    /// Parses the embedded schema files.
    ///
    /// # Errors
    /// When a file is not a valid schema.
    pub fn load() -> Result<Registry, serde_json::Error> {
        #[derive(Deserialize)]
        struct Raw {
            id: String,
            attributes: Vec<Attribute>,
        }
        let mut schemas = Vec::new();
        for text in SCHEMA_FILES {
            let json: Value = serde_json::from_str(text)?;
            let raw: Raw = serde_json::from_value(json.clone())?;
            schemas.push(Schema {
                id: raw.id,
                attributes: raw.attributes,
                json,
            });
        }
        let resource_types = serde_json::from_str(RESOURCE_TYPES)?;
        Ok(Registry {
            schemas,
            resource_types,
        })
    }

    /// The schema with this URN, case-insensitively.
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The extension URN of `kind` equal to `key` ignoring case, in its canonical spelling.
    pub fn extension_of(&self, kind: Kind, key: &str) -> Option<&'static str> {
        kind.extension_urns()
            .iter()
            .copied()
            .find(|u| u.eq_ignore_ascii_case(key))
    }

    /// Resolves a filter, PATCH or projection path against `kind`'s schemas. Names compare
    /// case-insensitively; a URN prefix picks the core schema or an extension.
    pub fn resolve(&self, kind: Kind, path: &AttrPath) -> Option<Target<'_>> {
        let extension = match &path.urn {
            None => None,
            Some(urn) if urn.eq_ignore_ascii_case(kind.core_urn()) => None,
            Some(urn) => Some(self.extension_of(kind, urn)?),
        };
        if extension.is_none() {
            if let Some(c) = common(&path.name, path.sub.as_deref()) {
                return Some(Target::Common(c));
            }
        }
        let schema = self.schema(extension.unwrap_or(kind.core_urn()))?;
        let Some(attr) = schema.attr(&path.name) else {
            // Entra ID writes `manager eq "id"` without the enterprise URN; a name the core
            // schema lacks is looked up in the extensions (the first one that has it).
            if path.urn.is_some() {
                return None;
            }
            return kind.extension_urns().iter().find_map(|urn| {
                self.resolve(
                    kind,
                    &AttrPath {
                        urn: Some((*urn).to_owned()),
                        ..path.clone()
                    },
                )
            });
        };
        let sub = match &path.sub {
            None => None,
            Some(s) => Some(attr.sub(s)?),
        };
        Some(Target::Attr {
            extension,
            attr,
            sub,
        })
    }
}

fn common(name: &str, sub: Option<&str>) -> Option<Common> {
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    match (name, sub) {
        (n, None) if is(n, "id") => Some(Common::Id),
        (n, None) if is(n, "externalId") => Some(Common::ExternalId),
        (n, None) if is(n, "meta") => Some(Common::Meta),
        (n, Some(s)) if is(n, "meta") => [
            ("resourceType", Common::ResourceType),
            ("created", Common::Created),
            ("lastModified", Common::LastModified),
            ("location", Common::Location),
            ("version", Common::Version),
        ]
        .into_iter()
        .find(|(k, _)| is(k, s))
        .map(|(_, c)| c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        }
    }

    #[test]
    fn embedded_schemas_load() {
        let r = Registry::load().unwrap();
        assert_eq!(r.schemas.len(), 6);
        assert_eq!(r.resource_types.len(), 2);
    }

    #[test]
    fn resolves_case_insensitively_with_urns() {
        let r = &*REGISTRY;
        let t = r.resolve(Kind::User, &p(None, "USERNAME", None)).unwrap();
        assert_eq!(t.index_path(), "username");
        assert!(!t.leaf().case_exact);
        let t = r
            .resolve(Kind::User, &p(None, "emails", Some("Value")))
            .unwrap();
        assert_eq!(t.index_path(), "emails.value");
        let t = r
            .resolve(
                Kind::User,
                &p(Some(ENTERPRISE_URN), "manager", Some("value")),
            )
            .unwrap();
        assert_eq!(
            t.index_path(),
            format!("{}:manager.value", ENTERPRISE_URN.to_lowercase())
        );
        let t = r.resolve(Kind::User, &p(Some(USER_URN), "name", Some("givenName")));
        assert_eq!(t.unwrap().index_path(), "name.givenname");
        assert!(matches!(
            r.resolve(Kind::User, &p(None, "meta", Some("lastModified"))),
            Some(Target::Common(Common::LastModified))
        ));
        assert!(r.resolve(Kind::User, &p(None, "nope", None)).is_none());
        let t = r.resolve(Kind::User, &p(None, "manager", None)).unwrap();
        assert!(t.index_path().starts_with(&ENTERPRISE_URN.to_lowercase()));
        assert!(r
            .resolve(Kind::Group, &p(Some(ENTERPRISE_URN), "manager", None))
            .is_none());
    }
}
