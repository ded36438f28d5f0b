//! What every kind of bearer token stored by name shares: it is made as a random secret whose
//! hash goes into its table under an owner (a tenant, a user, or the platform), listed without
//! its secret, and revoked by deleting its row. SCIM tokens, platform admin tokens and personal
//! access tokens differ only in their table, owner and prefix; their lookups differ and stay
//! in their own modules.

use super::{secret, Listed};
use crate::db::sql::{self, Bind, Builder};
use crate::db::time::now;
use crate::db::DbConn;
use crate::error::Error;
use diesel::sql_types::{Nullable, Text};
use diesel::QueryableByName;

/// One kind of token's table, and the owner whose rows are meant.
pub(super) struct Shelf<'a> {
    pub table: &'static str,
    /// `(column, value)` pairs that pick the owner's rows; none for platform tokens.
    pub owner: Vec<(&'static str, &'a str)>,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    created_at: String,
    #[diesel(sql_type = Nullable<Text>)]
    expires_at: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_used_at: Option<String>,
}

impl Shelf<'_> {
    /// `WHERE owner = ? AND ...` (or `WHERE 1 = 1` for the platform's).
    fn owned(&self, b: &mut Builder) {
        b.push(" WHERE 1 = 1");
        for (column, value) in &self.owner {
            b.push(&format!(" AND {column} = ")).text(*value);
        }
    }

    /// Makes a token named `name`: `prefix` and 256 random bits, of which only the hash is
    /// stored, with `extra` columns. Returns its id and the secret, shown only this once.
    ///
    /// # Errors
    /// A bad name; a taken one, with `taken`'s message.
    pub fn make(
        &self,
        c: &mut DbConn,
        prefix: &str,
        name: &str,
        extra: Vec<(&'static str, Bind)>,
        taken: impl FnOnce(&str) -> String,
    ) -> Result<(String, String), Error> {
        let name = super::credential_name(name)?;
        let (id, token) = (uuid::Uuid::new_v4().to_string(), secret::generate(prefix));
        let mut columns: Vec<(&str, Bind)> = vec![
            ("id", Bind::Text(id.clone())),
            ("name", Bind::Text(name.to_owned())),
            ("token_hash", Bind::Text(secret::hash(&token))),
            ("created_at", Bind::Text(now())),
        ];
        columns.extend(
            self.owner
                .iter()
                .map(|(col, v)| (*col, Bind::Text((*v).to_owned()))),
        );
        columns.extend(extra);
        let mut b = Builder::new(c.dialect());
        let names: Vec<&str> = columns.iter().map(|(col, _)| *col).collect();
        b.push(&format!(
            "INSERT INTO {} ({}) VALUES (",
            self.table,
            names.join(", ")
        ));
        for (i, (_, v)) in columns.into_iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            b.bind(v);
        }
        b.push(")");
        match sql::exec(c, &b.sql) {
            Err(e) if crate::db::is_unique_violation(&e) => Err(Error::Taken(taken(name))),
            other => other.map(|_| (id, token)).map_err(Error::from),
        }
    }

    /// The owner's tokens, never their secrets, in `order` (an ORDER BY list).
    ///
    /// # Errors
    /// Database errors.
    pub fn list(&self, c: &mut DbConn, expires: bool, order: &str) -> Result<Vec<Listed>, Error> {
        let mut b = Builder::new(c.dialect());
        let expires_at = if expires { "expires_at" } else { "NULL" };
        b.push(&format!(
            "SELECT id, name, created_at, {expires_at} AS expires_at, last_used_at FROM {}",
            self.table
        ));
        self.owned(&mut b);
        b.push(&format!(" ORDER BY {order}"));
        Ok(sql::load::<Row>(c, &b.sql)?
            .into_iter()
            .map(|r| Listed {
                id: r.id,
                name: r.name,
                created_at: r.created_at,
                expires_at: r.expires_at,
                last_used_at: r.last_used_at,
            })
            .collect())
    }

    /// Revokes (deletes) the owner's token whose `column` is `value`; requests bearing it fail
    /// from the next one on. Whether there was one.
    ///
    /// # Errors
    /// Database errors.
    pub fn revoke(&self, c: &mut DbConn, column: &str, value: &str) -> Result<bool, Error> {
        let mut b = Builder::new(c.dialect());
        b.push(&format!("DELETE FROM {}", self.table));
        self.owned(&mut b);
        b.push(&format!(" AND {column} = ")).text(value);
        Ok(sql::exec(c, &b.sql)? > 0)
    }
}
