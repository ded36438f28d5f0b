//! SQL built as text for the statements diesel's DSL cannot express on both backends (the
//! filter compiler, multi-row inserts): placeholders numbered per dialect, values bound in
//! order, run through diesel.

use super::{Backend, DbConn, Dialect};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    OptText(Option<String>),
    Num(f64),
    OptNum(Option<f64>),
    Int(i64),
    Bool(bool),
}

/// SQL text with its bound values in placeholder order.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
}

/// Builds SQL text for one dialect, numbering placeholders as it goes.
pub struct Builder {
    dialect: Dialect,
    pub sql: Sql,
    aliases: usize,
}

impl Builder {
    /// An empty builder.
    pub fn new(dialect: Dialect) -> Builder {
        Builder {
            dialect,
            sql: Sql::default(),
            aliases: 0,
        }
    }

    /// Appends raw SQL.
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.sql.text.push_str(s);
        self
    }

    /// Appends a placeholder bound to `b`.
    pub fn bind(&mut self, b: Bind) -> &mut Self {
        self.sql.binds.push(b);
        match self.dialect {
            Dialect::Sqlite => self.sql.text.push('?'),
            Dialect::Postgres => {
                let n = self.sql.binds.len();
                self.sql.text.push_str(&format!("${n}"));
            }
        }
        self
    }

    /// Appends a text placeholder.
    pub fn text(&mut self, s: impl Into<String>) -> &mut Self {
        self.bind(Bind::Text(s.into()))
    }

    /// A fresh table alias (`a1`, `a2`, ...) for a subquery.
    pub fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("a{}", self.aliases)
    }
}

/// Runs a statement built with [`Builder`].
///
/// # Errors
/// The database's error.
pub fn exec(conn: &mut DbConn, sql: &Sql) -> diesel::QueryResult<usize> {
    use diesel::RunQueryDsl;
    boxed(sql).execute(conn)
}

/// Loads rows of a query built with [`Builder`].
///
/// # Errors
/// The database's error.
pub fn load<T>(conn: &mut DbConn, sql: &Sql) -> diesel::QueryResult<Vec<T>>
where
    T: diesel::QueryableByName<Backend> + 'static,
{
    use diesel::RunQueryDsl;
    boxed(sql).load(conn)
}

fn boxed(
    sql: &Sql,
) -> diesel::query_builder::BoxedSqlQuery<'static, Backend, diesel::query_builder::SqlQuery> {
    use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text};
    let mut q = diesel::sql_query(sql.text.clone()).into_boxed::<Backend>();
    for b in &sql.binds {
        q = match b.clone() {
            Bind::Text(s) => q.bind::<Text, _>(s),
            Bind::OptText(s) => q.bind::<Nullable<Text>, _>(s),
            Bind::Num(n) => q.bind::<Double, _>(n),
            Bind::OptNum(n) => q.bind::<Nullable<Double>, _>(n),
            Bind::Int(n) => q.bind::<BigInt, _>(n),
            Bind::Bool(v) => q.bind::<Bool, _>(v),
        };
    }
    q
}
