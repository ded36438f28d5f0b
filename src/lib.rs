//! muster: multi-tenant identity provisioning. Identity providers push users and groups over
//! SCIM 2.0, people sign in through their tenant's IdP or with a password, admins invite
//! people by email. `docs/ARCHITECTURE.md` has the map: foundations at the bottom (`db`,
//! `error`, `ids`, `config`, `auth`), features above them (`scim`, `people`, `sso`, `issuer`,
//! `notify`, `activity`), and the surfaces on top (`http`, `cli`).

pub mod activity;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod ids;
pub mod issuer;
pub mod limits;
pub mod notify;
pub mod ops;
pub mod people;
pub mod scim;
pub mod sso;
pub mod state;
pub mod tenants;
pub mod vault;
