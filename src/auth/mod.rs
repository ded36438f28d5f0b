//! Credentials: random bearer secrets stored as hashes, and password hashing.

pub mod password;
pub mod secret;
