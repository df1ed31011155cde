//! A node that joined before and restarts while PostgreSQL is away starts degraded and joins
//! late; until its late join is complete it must not lead (ticks, door webhooks), and a join
//! PostgreSQL refuses stops it (fail-stop) instead of being retried for ever.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use vagt_cluster::{Cluster, ClusterConfig, Started};
use vagt_journal::{Journal, SegmentJournal};
use vagt_testkit::pg::Postgres;

fn start(pg_url: String, dir: &std::path::Path) -> (SegmentJournal, Cluster, Started) {
    let local = SegmentJournal::open(vagt_journal::Config::new(dir), |_| {}).unwrap();
    let config = ClusterConfig {
        url: pg_url,
        node: "a".into(),
        commit_timeout_ms: 500,
        lease_secs: 3,
        dedup_window_secs: 3600,
        ca_file: None,
        cert_file: None,
        key_file: None,
    };
    let appender: Arc<dyn Journal> = Arc::new(local.appender().unwrap());
    let (cluster, started) = Cluster::start(config, appender, Duration::from_secs(5), dir).unwrap();
    (local, cluster, started)
}

#[test]
fn a_refused_late_join_fails_the_node_and_it_never_takes_the_lease() {
    let mut pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let (_local, cluster, started) = start(pg.url(), dir.path());
    assert!(started.away.is_none());
    cluster.close();
    drop(cluster);
    drop(_local);
    // Another node upgraded the schema past this build; nobody holds the lease.
    pg.sql("INSERT INTO vagt_schema VALUES (999)");
    pg.sql("UPDATE vagt_leader SET holder = NULL, epoch = 0, expires_at = 'epoch'");
    pg.kill();
    let (_local, cluster, started) = start(pg.url(), dir.path());
    assert!(started.away.is_some(), "PostgreSQL was down: a late start");
    let (tx, rx) = std::sync::mpsc::channel();
    cluster.on_late_join(|_| Ok(()));
    cluster.on_failure(move |why| {
        let _ = tx.send(why.to_owned());
    });
    pg.start();
    let why = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("a refused late join was retried for ever");
    assert!(why.contains("newer than this Vagt"), "{why}");
    // The lease is renewed every second: three renewals' time, and still nobody took it.
    std::thread::sleep(Duration::from_secs(3));
    assert!(!cluster.leads(), "a node that never joined leads");
    assert_eq!(
        pg.sql("SELECT coalesce(holder, '-') || ' ' || epoch FROM vagt_leader"),
        "- 0"
    );
    cluster.close();
}
