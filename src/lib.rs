//! muster: multi-tenant identity provisioning. Identity providers push users and groups over
//! SCIM 2.0; see README.md for the architecture map.

pub mod activity;
pub mod admin;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clients;
pub mod config;
pub mod db;
pub mod error;
pub mod keys;
pub mod limits;
pub mod notify;
pub mod ops;
pub mod people;
pub mod scim;
pub mod sso;
pub mod tenants;
