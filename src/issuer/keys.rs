//! The keys muster signs its access tokens with: ES256 (P-256) key pairs in the database, so
//! every process signs with the same key and a restart keeps it. The first is made when none
//! exists; `muster keys rotate` makes a new one current and retires the old, which stays in the
//! JWKS until every token it signed has expired. Private keys are stored sealed (`vault`).

use crate::db::schema::signing_keys;
use crate::db::time::format_time;
use crate::db::DbConn;
use crate::error::Error;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use diesel::prelude::*;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// The only algorithm muster signs with.
pub const ALG: &str = "ES256";

/// How long a retired key stays published: longer than any token it signed can live.
pub const RETIRED_KEPT: Duration = Duration::hours(1);

impl From<openssl::error::ErrorStack> for Error {
    fn from(e: openssl::error::ErrorStack) -> Error {
        Error::Internal(format!("key generation failed: {e}"))
    }
}

/// A stored key that no longer reads: muster's fault, not the caller's.
fn damaged(kid: &str) -> Error {
    Error::Internal(format!("stored signing key {kid} is damaged"))
}

/// The current key, for signing.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub kid: String,
    /// PKCS#8 PEM, as jsonwebtoken reads it.
    pub private_pem: String,
}

/// A new P-256 key pair: the PKCS#8 private PEM and the public JWK, whose RFC 7638 thumbprint
/// is its `kid`.
fn generate() -> Result<(String, String, Value), Error> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let ec = EcKey::generate(&group)?;
    let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
    let mut ctx = BigNumContext::new()?;
    ec.public_key()
        .affine_coordinates(&group, &mut x, &mut y, &mut ctx)?;
    let coord =
        |n: &BigNum| -> Result<String, Error> { Ok(URL_SAFE_NO_PAD.encode(n.to_vec_padded(32)?)) };
    let (x, y) = (coord(&x)?, coord(&y)?);
    // RFC 7638: the required members, in lexicographic order, without spaces.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    let pem = PKey::from_ec_key(ec)?.private_key_to_pem_pkcs8()?;
    let pem = String::from_utf8(pem).map_err(|_| damaged(&kid))?;
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "x": x, "y": y,
        "kid": kid, "alg": ALG, "use": "sig",
    });
    Ok((kid, pem, jwk))
}

/// Serialises key changes across processes (SQLite: the write transaction already does).
fn lock(c: &mut DbConn) -> Result<(), diesel::result::Error> {
    if let DbConn::Postgres(_) = c {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7210480131)").execute(c)?;
    }
    Ok(())
}

/// What a private key is sealed for: its own row.
fn context(kid: &str) -> String {
    format!("signing_keys.private_pem:{kid}")
}

fn insert(c: &mut DbConn) -> Result<SigningKey, Error> {
    let (kid, pem, jwk) = generate()?;
    diesel::insert_into(signing_keys::table)
        .values((
            signing_keys::kid.eq(&kid),
            signing_keys::alg.eq(ALG),
            signing_keys::private_pem.eq(crate::vault::seal(&context(&kid), &pem)?),
            signing_keys::public_jwk.eq(jwk.to_string()),
            signing_keys::created_at.eq(format_time(OffsetDateTime::now_utc())),
        ))
        .execute(c)?;
    Ok(SigningKey {
        kid,
        private_pem: pem,
    })
}

fn newest_active(c: &mut DbConn) -> Result<Option<SigningKey>, Error> {
    signing_keys::table
        .filter(signing_keys::retired_at.is_null())
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .select((signing_keys::kid, signing_keys::private_pem))
        .first::<(String, String)>(c)
        .optional()?
        .map(|(kid, sealed)| {
            let private_pem = crate::vault::open(&context(&kid), &sealed)?;
            Ok(SigningKey { kid, private_pem })
        })
        .transpose()
}

/// Seals every private key under the current secret key (those stored before sealing, or
/// under a previous key). Returns how many were rewritten.
///
/// # Errors
/// Database errors; a key that does not open.
pub fn reseal(c: &mut DbConn) -> Result<usize, Error> {
    let rows: Vec<(String, String)> = signing_keys::table
        .select((signing_keys::kid, signing_keys::private_pem))
        .load(c)?;
    let mut n = 0;
    for (kid, stored) in rows {
        if let Some(sealed) = crate::vault::refresh(&context(&kid), &stored)? {
            diesel::update(signing_keys::table.find(&kid))
                .set(signing_keys::private_pem.eq(sealed))
                .execute(c)?;
            n += 1;
        }
    }
    Ok(n)
}

/// The key to sign with, made now if there is none.
///
/// # Errors
/// Database or key-generation errors.
pub fn current(c: &mut DbConn) -> Result<SigningKey, Error> {
    if let Some(k) = newest_active(c)? {
        return Ok(k);
    }
    crate::db::write_tx(c, |c| {
        lock(c)?;
        match newest_active(c)? {
            Some(k) => Ok(k),
            None => insert(c),
        }
    })
}

/// Makes a new key current; the old ones are retired and stay published for
/// [`RETIRED_KEPT`]. Returns the new key's id.
///
/// # Errors
/// Database or key-generation errors.
pub fn rotate(c: &mut DbConn) -> Result<String, Error> {
    crate::db::write_tx(c, |c| {
        lock(c)?;
        diesel::update(signing_keys::table.filter(signing_keys::retired_at.is_null()))
            .set(signing_keys::retired_at.eq(format_time(OffsetDateTime::now_utc())))
            .execute(c)?;
        Ok(insert(c)?.kid)
    })
}

/// The public keys: the current ones and those retired within [`RETIRED_KEPT`]. Older
/// retired keys are deleted on the way.
///
/// # Errors
/// Database errors, a damaged stored key.
pub fn published(c: &mut DbConn) -> Result<Vec<Value>, Error> {
    let cutoff = format_time(OffsetDateTime::now_utc() - RETIRED_KEPT);
    let rows: Vec<(String, String, Option<String>)> = signing_keys::table
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .select((
            signing_keys::kid,
            signing_keys::public_jwk,
            signing_keys::retired_at,
        ))
        .load(c)?;
    let mut keys = Vec::new();
    for (kid, jwk, retired) in rows {
        if retired.as_deref().is_some_and(|r| r < cutoff.as_str()) {
            continue;
        }
        keys.push(serde_json::from_str(&jwk).map_err(|_| damaged(&kid))?);
    }
    Ok(keys)
}

/// Deletes keys retired longer ago than [`RETIRED_KEPT`]; no token they signed is valid.
///
/// # Errors
/// Database errors.
pub fn prune(c: &mut DbConn) -> Result<usize, Error> {
    let cutoff = format_time(OffsetDateTime::now_utc() - RETIRED_KEPT);
    Ok(
        diesel::delete(signing_keys::table.filter(signing_keys::retired_at.lt(cutoff)))
            .execute(c)?,
    )
}

/// One published key by id.
///
/// # Errors
/// Database errors, a damaged stored key.
pub fn public(c: &mut DbConn, kid: &str) -> Result<Option<Value>, Error> {
    // On every verified token: one row by key, not the whole JWKS.
    let cutoff = format_time(OffsetDateTime::now_utc() - RETIRED_KEPT);
    let jwk: Option<String> = signing_keys::table
        .find(kid)
        .filter(
            signing_keys::retired_at
                .is_null()
                .or(signing_keys::retired_at.ge(cutoff)),
        )
        .select(signing_keys::public_jwk)
        .first(c)
        .optional()?;
    jwk.map(|j| serde_json::from_str(&j).map_err(|_| damaged(kid)))
        .transpose()
}

/// Signs claims with the current key (ES256, `kid` set).
///
/// # Errors
/// Database or key errors.
pub fn sign<T: serde::Serialize>(c: &mut DbConn, claims: &T) -> Result<String, Error> {
    let key = current(c)?;
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some(key.kid.clone());
    let enc = jsonwebtoken::EncodingKey::from_ec_pem(key.private_pem.as_bytes())
        .map_err(|_| damaged(&key.kid))?;
    jsonwebtoken::encode(&h, claims, &enc).map_err(|_| damaged(&key.kid))
}

/// Verifies a token muster signed: ES256 only, a published key by `kid`, then `validation`
/// (issuer, audience, expiry). `Ok(Err(why))` for a token that does not verify.
///
/// # Errors
/// Database errors, a damaged stored key.
pub fn verify<T: serde::de::DeserializeOwned>(
    c: &mut DbConn,
    token: &str,
    validation: &jsonwebtoken::Validation,
) -> Result<Result<T, String>, Error> {
    let header = match jsonwebtoken::decode_header(token) {
        Ok(h) => h,
        Err(e) => return Ok(Err(format!("not a JWT: {e}"))),
    };
    if header.alg != jsonwebtoken::Algorithm::ES256 {
        return Ok(Err(format!("algorithm {:?} is not accepted", header.alg)));
    }
    let Some(kid) = header.kid else {
        return Ok(Err("the token names no key (kid)".into()));
    };
    let Some(jwk) = public(c, &kid)? else {
        return Ok(Err(format!("unknown key {kid:?}")));
    };
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk).map_err(|_| damaged(&kid))?;
    let dec = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|_| damaged(&kid))?;
    Ok(jsonwebtoken::decode::<T>(token, &dec, validation)
        .map(|d| d.claims)
        .map_err(|e| format!("the token does not verify: {e}")))
}

/// Every key: id, created, retired (none while it signs), oldest first.
///
/// # Errors
/// Database errors.
pub fn list(c: &mut DbConn) -> Result<Vec<(String, String, Option<String>)>, Error> {
    use crate::db::schema::signing_keys as k;
    Ok(k::table
        .order(k::created_at)
        .select((k::kid, k::created_at, k::retired_at))
        .load(c)?)
}
