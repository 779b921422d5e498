//! SQL queries run through `sqlx` as subsegments (feature `sqlx`): [`XRayPool`] wraps a
//! `sqlx::Pool` (SQLite or PostgreSQL) and is an `Executor` itself, so setup is one line at
//! pool construction and queries are written as usual.
//!
//! Each query run inside a sampled invocation becomes one subsegment named
//! `<database>@<host>` (SQLite: the file name) with the `sql` object: `url` (any password
//! removed), `user`, `database_type`, `database_version` (asked once at construction),
//! `driver_version`, `preparation` (`statement` for prepared, cached statements, `call` for
//! raw SQL) and `sanitized_query` (literals replaced by `?`, see [`sanitize_query`]; the raw
//! text is recorded only after [`XRayPool::record_raw_queries`]). A failing query is a fault
//! with its error as cause. Unsampled invocations and code outside any invocation record
//! nothing and cost one thread-local load per query.

mod connection_url;
mod sanitize;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::future::BoxFuture;
use futures_core::stream::{BoxStream, Stream};
use sqlx::{Database, Describe, Either, Execute, Executor, Pool};

use crate::model::{Namespace, SqlPreparation};
use crate::runtime::subsegment::Subsegment;

pub use sanitize::{sanitize_query, sanitize_query_into};

/// The `sql.driver_version` recorded: the `sqlx` release line this crate is built against.
pub const DRIVER_VERSION: &str = "sqlx-0.8";

/// The databases [`XRayPool`] knows how to describe (sealed).
pub trait TracedDatabase: Database + private::Sealed {
    /// `sql.database_type`.
    const DATABASE_TYPE: &'static str;
    #[doc(hidden)]
    fn server_version(pool: &Pool<Self>) -> BoxFuture<'_, Result<String, sqlx::Error>>;
}

mod private {
    pub trait Sealed {}
    impl Sealed for sqlx::Sqlite {}
    impl Sealed for sqlx::Postgres {}
}

impl TracedDatabase for sqlx::Sqlite {
    const DATABASE_TYPE: &'static str = "SQLite";
    fn server_version(pool: &Pool<Self>) -> BoxFuture<'_, Result<String, sqlx::Error>> {
        Box::pin(sqlx::query_scalar("select sqlite_version()").fetch_one(pool))
    }
}

impl TracedDatabase for sqlx::Postgres {
    const DATABASE_TYPE: &'static str = "PostgreSQL";
    fn server_version(pool: &Pool<Self>) -> BoxFuture<'_, Result<String, sqlx::Error>> {
        Box::pin(sqlx::query_scalar("show server_version").fetch_one(pool))
    }
}

/// A `sqlx` pool whose queries are recorded as subsegments.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use xray_core::sql::XRayPool;
///
/// let pool = XRayPool::<sqlx::Sqlite>::connect("sqlite::memory:").await?;
/// sqlx::query("create table users (id integer primary key, email text)").execute(&pool).await?;
/// sqlx::query("insert into users (email) values (?)").bind("a@example.com").execute(&pool).await?;
/// let n: i64 = sqlx::query_scalar("select count(*) from users").fetch_one(&pool).await?;
/// assert_eq!(n, 1);
/// assert!(pool.database_version().starts_with('3'));
/// # Ok::<(), sqlx::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct XRayPool<DB: Database> {
    pool: Pool<DB>,
    info: Arc<Info>,
}

#[derive(Debug, Clone)]
struct Info {
    name: String,
    url: String,
    user: String,
    database_type: &'static str,
    version: String,
    raw_queries: bool,
}

impl<DB: TracedDatabase> XRayPool<DB> {
    /// Connects a pool to `url` and asks the server its version.
    pub async fn connect(url: &str) -> Result<XRayPool<DB>, sqlx::Error> {
        let pool = Pool::<DB>::connect(url).await?;
        XRayPool::from_pool(pool, url).await
    }

    /// Wraps an existing pool; `url` is the one it was connected with (only recorded, with
    /// any password removed).
    pub async fn from_pool(pool: Pool<DB>, url: &str) -> Result<XRayPool<DB>, sqlx::Error> {
        let version = DB::server_version(&pool).await?;
        let facts = connection_url::url_facts(url);
        Ok(XRayPool {
            pool,
            info: Arc::new(Info {
                name: facts.name,
                url: facts.url,
                user: facts.user,
                database_type: DB::DATABASE_TYPE,
                version,
                raw_queries: false,
            }),
        })
    }
}

impl<DB: Database> XRayPool<DB> {
    /// Records queries as written instead of sanitized. Only for queries that never inline
    /// values: bound parameters are never recorded either way.
    #[must_use]
    pub fn record_raw_queries(mut self, raw: bool) -> XRayPool<DB> {
        Arc::make_mut(&mut self.info).raw_queries = raw;
        self
    }

    /// The wrapped pool (queries run on it directly are not recorded).
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The server version read at construction.
    pub fn database_version(&self) -> &str {
        &self.info.version
    }

    /// The subsegment name used for this pool's queries.
    pub fn subsegment_name(&self) -> &str {
        &self.info.name
    }

    fn begin(&self, sql: &str, persistent: bool) -> Option<Subsegment> {
        if !crate::runtime::api::is_sampled() {
            return None;
        }
        let sub = Subsegment::begin(&self.info.name);
        let info = &*self.info;
        sub.with_fields(|e| {
            e.set_namespace(Namespace::Remote)
                .sql_url(&info.url)
                .sql_database_type(info.database_type)
                .sql_database_version(&info.version)
                .sql_driver_version(DRIVER_VERSION)
                .sql_preparation(if persistent {
                    SqlPreparation::Statement
                } else {
                    SqlPreparation::Call
                });
            if !info.user.is_empty() {
                e.sql_user(&info.user);
            }
            if info.raw_queries {
                e.sql_sanitized_query(sql);
            } else {
                QUERY_BUF.with(|b| {
                    let mut buf = b.borrow_mut();
                    buf.clear();
                    sanitize_query_into(sql, &mut buf);
                    e.sql_sanitized_query(&buf);
                });
            }
        });
        Some(sub)
    }
}

thread_local! {
    static QUERY_BUF: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The database refused the query (as opposed to a local or connection failure).
fn is_remote(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(_))
}

fn finish<T>(sub: Option<Subsegment>, out: &Result<T, sqlx::Error>) {
    if let Some(sub) = sub {
        if let Err(e) = out {
            sub.record_error(e, is_remote(e));
        }
        sub.end();
    }
}

impl<'p, DB> Executor<'p> for &'p XRayPool<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let sub = self.begin(query.sql(), query.persistent());
        let inner = (&self.pool).fetch_many(query);
        match sub {
            None => inner,
            Some(sub) => Box::pin(QueryStream {
                inner,
                sub: Some(sub),
            }),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let sub = self.begin(query.sql(), query.persistent());
        let inner = (&self.pool).fetch_optional(query);
        match sub {
            None => inner,
            Some(sub) => Box::pin(async move {
                let out = inner.await;
                finish(Some(sub), &out);
                out
            }),
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement<'q>, sqlx::Error>>
    where
        'p: 'e,
    {
        (&self.pool).prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<DB>, sqlx::Error>>
    where
        'p: 'e,
    {
        (&self.pool).describe(sql)
    }
}

/// The rows of one query; the subsegment closes with the last row, the first error, or when
/// the stream is dropped early.
struct QueryStream<'e, T> {
    inner: BoxStream<'e, Result<T, sqlx::Error>>,
    sub: Option<Subsegment>,
}

impl<T> Stream for QueryStream<'_, T> {
    type Item = Result<T, sqlx::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = std::task::ready!(self.inner.as_mut().poll_next(cx));
        match &item {
            None => finish::<()>(self.sub.take(), &Ok(())),
            Some(Err(e)) => {
                if let Some(sub) = self.sub.take() {
                    sub.record_error(e, is_remote(e));
                    sub.end();
                }
            }
            Some(Ok(_)) => {}
        }
        Poll::Ready(item)
    }
}
