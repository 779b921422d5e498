//! `XRayPool` on a real SQLite database (a file in a temporary directory): one subsegment per
//! query with the `sql` fields, literals redacted, errors as faults, nothing when unsampled.

mod support;

use lambda_runtime::{Error, LambdaEvent};
use support::{documents, event, find, header, rt, sink};
use xray_core::capture_lambda_handler;
use xray_core::sql::XRayPool;

#[capture_lambda_handler]
async fn handler(event: LambdaEvent<String>) -> Result<i64, Error> {
    let pool = XRayPool::<sqlx::Sqlite>::connect(&event.payload).await?;
    sqlx::query("create table if not exists users (id integer primary key, email text, age int)")
        .execute(&pool)
        .await?;
    sqlx::query("insert into users (email, age) values (?, ?)")
        .bind("bound@example.com")
        .bind(41)
        .execute(&pool)
        .await?;
    sqlx::raw_sql("insert into users (email, age) values ('inline@example.com', 42)")
        .execute(&pool)
        .await?;
    let n: i64 = sqlx::query_scalar("select count(*) from users where age > 40 and email <> 'x'")
        .fetch_one(&pool)
        .await?;
    let missing = sqlx::query("select * from no_such_table")
        .fetch_all(&pool)
        .await;
    assert!(missing.is_err());
    Ok(n)
}

fn db_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}/orders.db?mode=rwc", dir.path().display())
}

#[test]
fn each_query_is_a_subsegment_with_the_sql_fields() {
    sink();
    let dir = tempfile::tempdir().unwrap();
    let (h, root) = header("1", "");
    let n = rt().block_on(handler(event(db_url(&dir), &h))).unwrap();
    assert_eq!(n, 2);

    let docs = documents(&root);
    let subs = find(&docs, "orders.db");
    // create, insert (bound), insert (raw), select, failing select.
    assert_eq!(subs.len(), 5, "{docs:#?}");
    for s in &subs {
        assert_eq!(s["namespace"], "remote");
        let sql = &s["sql"];
        assert_eq!(sql["database_type"], "SQLite");
        assert!(sql["database_version"].as_str().unwrap().starts_with('3'));
        assert_eq!(sql["driver_version"], "sqlx-0.8");
        assert_eq!(sql["url"], db_url(&dir));
        let q = sql["sanitized_query"].as_str().unwrap();
        assert!(
            !q.contains("example.com") && !q.contains("42") && !q.contains("'x'"),
            "{q}"
        );
    }
    let query = |i: usize| subs[i]["sql"]["sanitized_query"].as_str().unwrap();
    assert_eq!(query(1), "insert into users (email, age) values (?, ?)");
    assert_eq!(subs[1]["sql"]["preparation"], "statement");
    assert_eq!(query(2), "insert into users (email, age) values (?, ?)");
    assert_eq!(subs[2]["sql"]["preparation"], "call");
    assert_eq!(
        query(3),
        "select count(*) from users where age > ? and email <> ?"
    );

    let failed = subs[4];
    assert_eq!(failed["fault"], true);
    let ex = &failed["cause"]["exceptions"][0];
    assert!(
        ex["message"].as_str().unwrap().contains("no_such_table"),
        "{ex}"
    );
    assert_eq!(ex["remote"], true);
    assert!(subs[..4].iter().all(|s| s.get("fault").is_none()));
}

#[test]
fn unsampled_queries_record_nothing() {
    sink();
    let dir = tempfile::tempdir().unwrap();
    let (h, root) = header("0", "");
    assert_eq!(rt().block_on(handler(event(db_url(&dir), &h))).unwrap(), 2);
    assert!(documents(&root).is_empty());
}

proptest::proptest! {
    /// Whatever a string literal holds (quotes, backslashes, comment markers, any text) and
    /// whatever number is inlined, none of it survives, and the rest of the query does.
    #[test]
    fn inlined_values_never_survive(text in "\\PC{0,40}", n in 0.0f64..1e12, id in 0u64..) {
        let quoted = text.replace('\'', "''");
        let sql = format!("SELECT \"na'me\", t.c1 FROM t WHERE a = '{quoted}' AND b >= {n} AND id IN ({id}, $1)");
        let out = xray_core::sql::sanitize_query(&sql);
        proptest::prop_assert_eq!(out, "SELECT \"na'me\", t.c1 FROM t WHERE a = ? AND b >= ? AND id IN (?, $1)");
    }

    /// Any input: no panic, and no more text out than in (plus one `?` per literal).
    #[test]
    fn any_input_is_handled(sql in "\\PC{0,200}") {
        let out = xray_core::sql::sanitize_query(&sql);
        proptest::prop_assert!(out.len() <= sql.len() + 1);
    }
}
