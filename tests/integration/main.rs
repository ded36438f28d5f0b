//! Integration tests: muster's real HTTP API on a loopback port, each test on SQLite and on
//! PostgreSQL. One test binary, so the crate links once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

mod activity;
mod admin;
mod architecture;
mod browser;
mod bulk;
mod cli;
mod clients;
mod filters;
mod groups;
mod introspect;
mod limits;
mod linking;
mod listing;
mod ops;
mod outbound;
mod passwords;
mod patch;
mod peers;
mod people;
mod protocol;
mod saml;
mod secrets;
mod sso;
mod tokens;
mod users;
