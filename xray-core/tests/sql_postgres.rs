//! `XRayPool` on a real PostgreSQL server, given by `XRAY_TEST_POSTGRES_URL` (`scripts/test-all`
//! starts one on 127.0.0.1). Outside CI, without the variable, the test says so loudly and
//! passes; in CI (`CI` set) the variable is required.

mod support;

use lambda_runtime::{Error, LambdaEvent};
use support::{documents, event, find, header, rt, sink};
use xray_core::capture_lambda_handler;
use xray_core::sql::XRayPool;

const VAR: &str = "XRAY_TEST_POSTGRES_URL";

#[capture_lambda_handler]
async fn handler(event: LambdaEvent<String>) -> Result<i64, Error> {
    let pool = XRayPool::<sqlx::Postgres>::connect(&event.payload).await?;
    sqlx::query("create table if not exists xray_orders (id bigserial primary key, email text)")
        .execute(&pool)
        .await?;
    sqlx::query("insert into xray_orders (email) values ($1)")
        .bind("bound@example.com")
        .execute(&pool)
        .await?;
    let n: i64 =
        sqlx::query_scalar("select count(*) from xray_orders where email <> 'secret@example.com'")
            .fetch_one(&pool)
            .await?;
    assert!(
        sqlx::query("select * from no_such_table")
            .execute(&pool)
            .await
            .is_err()
    );
    Ok(n)
}

#[test]
fn each_query_is_a_subsegment_with_the_postgres_fields() {
    let Ok(url) = std::env::var(VAR) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{VAR} must be set in CI (scripts/test-all starts PostgreSQL)"
        );
        eprintln!("\n*** SKIPPED: {VAR} is not set; no PostgreSQL to test against ***\n");
        return;
    };
    sink();
    let (h, root) = header("1", "");
    assert!(rt().block_on(handler(event(url.clone(), &h))).unwrap() >= 1);

    let docs = documents(&root);
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let name = format!("{db}@127.0.0.1");
    let subs = find(&docs, &name);
    assert_eq!(subs.len(), 4, "{docs:#?}");
    for s in &subs {
        let sql = &s["sql"];
        assert_eq!(sql["database_type"], "PostgreSQL");
        assert!(!sql["database_version"].as_str().unwrap().is_empty());
        assert!(sql["user"].as_str().is_some_and(|u| !u.is_empty()));
        let recorded_url = sql["url"].as_str().unwrap();
        assert!(recorded_url.starts_with("postgres") && recorded_url.contains("127.0.0.1"));
        assert!(!recorded_url.contains(":secret@"), "{recorded_url}");
    }
    assert_eq!(
        subs[2]["sql"]["sanitized_query"],
        "select count(*) from xray_orders where email <> ?"
    );
    assert_eq!(
        subs[1]["sql"]["sanitized_query"],
        "insert into xray_orders (email) values ($1)"
    );
    assert_eq!(subs[3]["fault"], true);
    assert_eq!(subs[3]["cause"]["exceptions"][0]["remote"], true);
}
