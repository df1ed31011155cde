//! The schema on a real PostgreSQL server: migrations apply once, concurrently started nodes do
//! not race, and a database migrated by a newer Vagt is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use vagt_cluster::schema::{VERSION, migrate};
use vagt_testkit::pg::Postgres;

async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn migrations_apply_once_even_when_nodes_start_together() {
    let pg = Postgres::primary();
    let (mut a, mut b) = (client(&pg.url()).await, client(&pg.url()).await);
    let (x, y) = tokio::join!(migrate(&mut a), migrate(&mut b));
    assert_eq!((x.unwrap(), y.unwrap()), (VERSION, VERSION));
    assert_eq!(migrate(&mut a).await.unwrap(), VERSION);
    let versions =
        pg.sql("SELECT string_agg(version::text, ',' ORDER BY version) FROM vagt_schema");
    let expected: Vec<String> = (1..=VERSION).map(|v| v.to_string()).collect();
    assert_eq!(versions, expected.join(","));
    assert_eq!(pg.sql("SELECT next FROM vagt_seq"), "1");
}

#[tokio::test]
async fn a_database_from_a_newer_vagt_is_refused() {
    let pg = Postgres::primary();
    let mut c = client(&pg.url()).await;
    migrate(&mut c).await.unwrap();
    pg.sql(&format!("INSERT INTO vagt_schema VALUES ({})", VERSION + 1));
    let e = migrate(&mut c).await.unwrap_err().to_string();
    assert!(e.contains("newer than this Vagt"), "{e}");
}

#[tokio::test]
async fn shipping_for_an_unregistered_node_is_an_error_not_a_silent_drop() {
    let pg = Postgres::primary();
    let mut c = client(&pg.url()).await;
    migrate(&mut c).await.unwrap();
    let e = c
        .query_one(
            "SELECT vagt_ship('ghost', ARRAY[0]::bigint[], ARRAY[NULL]::bytea[], ARRAY[false], \
             ARRAY['\\x53'::bytea], 3600, 9)",
            &[],
        )
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("not registered"), "{e:?}");
    assert_eq!(pg.sql("SELECT count(*) FROM vagt_log"), "0");
    assert_eq!(
        pg.sql("SELECT next FROM vagt_seq"),
        "1",
        "the sequencing step rolled back"
    );
}
