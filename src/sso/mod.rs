//! muster as a relying party: signing in to a tenant through its own identity providers
//! (OIDC and SAML). The providers and their checks ([`idp`]), the protocols behind one seam
//! ([`protocol`] over [`oidc`] and [`saml`]), the sign-in in progress ([`flow`]), the sign-in
//! service the pages call ([`login`]), who a verified login is ([`link`], by the provider's
//! [`linking`] rule), and the tenant's IdP tokens accepted as credentials ([`introspect`]).

pub mod claims;
pub mod fetch;
pub mod flow;
pub mod idp;
pub mod introspect;
pub mod link;
pub mod linking;
pub mod login;
pub mod oidc;
pub mod protocol;
pub mod refusal;
pub mod saml;

pub use claims::Claims;
