//! SCIM 2.0 (RFC 7643/7644) for Users and Groups: the schema registry, filter grammar and its
//! SQL form, PATCH, the store and the service. Its HTTP surface is `http::scim`.

pub mod error;
pub mod filter;
pub mod index;
pub mod patch;
pub mod query;
pub mod resource;
pub mod response;
pub mod schema;
pub mod service;
pub mod sort;
pub mod store;

/// The SCIM media type (RFC 7644 §8.1).
pub const SCIM_JSON: &str = "application/scim+json";
