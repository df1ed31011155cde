//! The schema, created and migrated by Vagt itself: numbered migrations applied in order under
//! an advisory lock (two nodes starting at once do not race), recorded in `vagt_schema`.
//!
//! * `vagt_log` — the one total order: `gseq` is assigned under the row lock of `vagt_seq`
//!   (held until commit), so a later `gseq` always commits after an earlier one and a follower
//!   reading `gseq >= position` never skips a row that commits later. Skipped numbers (a
//!   duplicate dropped inside a batch) are gaps that are never filled.
//! * `vagt_nodes` — per node, how far its local journal is shipped (updated in the shipping
//!   transaction, so a batch is shipped exactly once).
//! * `vagt_leader` — the lease for once-only duties.

use anyhow::Context;
use tokio_postgres::Client;

/// Migrations, in order; index + 1 is the version.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE vagt_log (
    gseq       bigint PRIMARY KEY,
    node       text NOT NULL,
    origin     bigint NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    dedup      bytea,
    payload    bytea NOT NULL
);
CREATE INDEX vagt_log_dedup ON vagt_log (dedup) WHERE dedup IS NOT NULL;
CREATE TABLE vagt_seq (
    id   int PRIMARY KEY CHECK (id = 1),
    next bigint NOT NULL
);
INSERT INTO vagt_seq VALUES (1, 1);
CREATE TABLE vagt_nodes (
    node    text PRIMARY KEY,
    id      serial UNIQUE,
    shipped bigint NOT NULL DEFAULT 0,
    seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE vagt_leader (
    id         int PRIMARY KEY CHECK (id = 1),
    holder     text,
    epoch      bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT 'epoch'
);
INSERT INTO vagt_leader (id) VALUES (1);
",
    r"
-- One call (one round trip) per shipped group; see ship.rs. VOLATILE plpgsql: every statement
-- takes a new snapshot, so the dedup check after the sequencing lock sees every row committed
-- before the lock was granted.
CREATE FUNCTION vagt_ship(p_node text, p_origins bigint[], p_dedups bytea[], p_ticks bool[],
                          p_payloads bytea[], p_window float8, p_end bigint)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n    bigint := coalesce(cardinality(p_origins), 0);
    base bigint;
    done bigint;
BEGIN
    UPDATE vagt_seq SET next = next + n WHERE id = 1 RETURNING next - n INTO base;
    SELECT shipped INTO done FROM vagt_nodes WHERE node = p_node FOR UPDATE;
    INSERT INTO vagt_log (gseq, node, origin, dedup, payload)
    SELECT base + r.i - 1, p_node, r.origin, r.dedup, r.payload
    FROM unnest(p_origins, p_dedups, p_ticks, p_payloads)
         WITH ORDINALITY AS r(origin, dedup, tick, payload, i)
    WHERE r.origin >= done
      AND (r.dedup IS NULL OR NOT EXISTS (
            SELECT 1 FROM vagt_log l
            WHERE l.dedup = r.dedup AND l.written_at > now() - make_interval(secs => p_window)))
      AND (NOT r.tick OR EXISTS (
            SELECT 1 FROM vagt_leader
            WHERE holder = p_node AND expires_at > clock_timestamp()));
    UPDATE vagt_nodes SET shipped = GREATEST(shipped, p_end), seen_at = now()
    WHERE node = p_node;
    RETURN base;
END $$;
",
    r"
-- The dedup probe as a LATERAL lookup with LIMIT 1: one index probe per shipped frame. As
-- NOT EXISTS under an OR (migration 2) the planner may turn it into a hashed subplan over the
-- whole log — a sequential scan of vagt_log per call, seen as the shipping backend at 100 % of
-- a core once its cached generic plan flipped.
CREATE OR REPLACE FUNCTION vagt_ship(p_node text, p_origins bigint[], p_dedups bytea[],
                                     p_ticks bool[], p_payloads bytea[], p_window float8,
                                     p_end bigint)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n      bigint := coalesce(cardinality(p_origins), 0);
    base   bigint;
    done   bigint;
    cutoff timestamptz := now() - make_interval(secs => p_window);
    leads  boolean;
BEGIN
    UPDATE vagt_seq SET next = next + n WHERE id = 1 RETURNING next - n INTO base;
    SELECT shipped INTO done FROM vagt_nodes WHERE node = p_node FOR UPDATE;
    SELECT EXISTS (SELECT 1 FROM vagt_leader
                   WHERE holder = p_node AND expires_at > clock_timestamp()) INTO leads;
    INSERT INTO vagt_log (gseq, node, origin, dedup, payload)
    SELECT base + r.i - 1, p_node, r.origin, r.dedup, r.payload
    FROM unnest(p_origins, p_dedups, p_ticks, p_payloads)
         WITH ORDINALITY AS r(origin, dedup, tick, payload, i)
    LEFT JOIN LATERAL (
        SELECT 1 AS hit FROM vagt_log l
        WHERE l.dedup = r.dedup AND l.written_at > cutoff
        LIMIT 1
    ) d ON true
    WHERE r.origin >= done AND d.hit IS NULL AND (NOT r.tick OR leads);
    UPDATE vagt_nodes SET shipped = GREATEST(shipped, p_end), seen_at = now()
    WHERE node = p_node;
    RETURN base;
END $$;
",
    r"
-- A node that is not registered is an error, not a call that stores nothing and succeeds.
CREATE OR REPLACE FUNCTION vagt_ship(p_node text, p_origins bigint[], p_dedups bytea[],
                                     p_ticks bool[], p_payloads bytea[], p_window float8,
                                     p_end bigint)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n      bigint := coalesce(cardinality(p_origins), 0);
    base   bigint;
    done   bigint;
    cutoff timestamptz := now() - make_interval(secs => p_window);
    leads  boolean;
BEGIN
    UPDATE vagt_seq SET next = next + n WHERE id = 1 RETURNING next - n INTO base;
    SELECT shipped INTO done FROM vagt_nodes WHERE node = p_node FOR UPDATE;
    IF done IS NULL THEN
        RAISE EXCEPTION 'vagt node % is not registered in vagt_nodes', p_node;
    END IF;
    SELECT EXISTS (SELECT 1 FROM vagt_leader
                   WHERE holder = p_node AND expires_at > clock_timestamp()) INTO leads;
    INSERT INTO vagt_log (gseq, node, origin, dedup, payload)
    SELECT base + r.i - 1, p_node, r.origin, r.dedup, r.payload
    FROM unnest(p_origins, p_dedups, p_ticks, p_payloads)
         WITH ORDINALITY AS r(origin, dedup, tick, payload, i)
    LEFT JOIN LATERAL (
        SELECT 1 AS hit FROM vagt_log l
        WHERE l.dedup = r.dedup AND l.written_at > cutoff
        LIMIT 1
    ) d ON true
    WHERE r.origin >= done AND d.hit IS NULL AND (NOT r.tick OR leads);
    UPDATE vagt_nodes SET shipped = GREATEST(shipped, p_end), seen_at = now()
    WHERE node = p_node;
    RETURN base;
END $$;
",
    r"
-- A node ships its journal contiguously: each group starts where the last one ended (a retried
-- group may start below: its shipped part is skipped). A group that starts *above* what the
-- database has from the node means the database lost records it had committed (restored from
-- an older backup, or a failover to a standby that was behind): refused with SQLSTATE VG001, and
-- the node stops, so that it starts again on the log as it is and ships the lost part again.
CREATE OR REPLACE FUNCTION vagt_ship(p_node text, p_origins bigint[], p_dedups bytea[],
                                     p_ticks bool[], p_payloads bytea[], p_window float8,
                                     p_end bigint)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n      bigint := coalesce(cardinality(p_origins), 0);
    base   bigint;
    done   bigint;
    cutoff timestamptz := now() - make_interval(secs => p_window);
    leads  boolean;
BEGIN
    UPDATE vagt_seq SET next = next + n WHERE id = 1 RETURNING next - n INTO base;
    SELECT shipped INTO done FROM vagt_nodes WHERE node = p_node FOR UPDATE;
    IF done IS NULL THEN
        RAISE EXCEPTION 'vagt node % is not registered in vagt_nodes', p_node;
    END IF;
    IF n > 0 AND p_origins[1] > done THEN
        RAISE EXCEPTION USING ERRCODE = 'VG001', MESSAGE = format(
            'the cluster log lost records of node %s: it holds them up to local offset %s, this node shipped them up to %s',
            p_node, done, p_origins[1]);
    END IF;
    SELECT EXISTS (SELECT 1 FROM vagt_leader
                   WHERE holder = p_node AND expires_at > clock_timestamp()) INTO leads;
    INSERT INTO vagt_log (gseq, node, origin, dedup, payload)
    SELECT base + r.i - 1, p_node, r.origin, r.dedup, r.payload
    FROM unnest(p_origins, p_dedups, p_ticks, p_payloads)
         WITH ORDINALITY AS r(origin, dedup, tick, payload, i)
    LEFT JOIN LATERAL (
        SELECT 1 AS hit FROM vagt_log l
        WHERE l.dedup = r.dedup AND l.written_at > cutoff
        LIMIT 1
    ) d ON true
    WHERE r.origin >= done AND d.hit IS NULL AND (NOT r.tick OR leads);
    UPDATE vagt_nodes SET shipped = GREATEST(shipped, p_end), seen_at = now()
    WHERE node = p_node;
    RETURN base;
END $$;
",
];

/// The schema version this build writes and reads.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// Advisory lock key for migrations (an arbitrary constant: "vagt" in ASCII).
const MIGRATION_LOCK: i64 = 0x7661_6774;

/// Brings the database to [`VERSION`]; refuses a database migrated by a newer Vagt.
pub async fn migrate(client: &mut Client) -> anyhow::Result<i32> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS vagt_schema (version int NOT NULL)")
        .await?;
    let row = tx
        .query_opt("SELECT max(version) FROM vagt_schema", &[])
        .await?;
    let current: i32 = row.and_then(|r| r.get::<_, Option<i32>>(0)).unwrap_or(0);
    anyhow::ensure!(
        current <= VERSION,
        "the database has schema version {current}, newer than this Vagt's {VERSION}: upgrade Vagt"
    );
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as i32 + 1;
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("applying schema migration {version}"))?;
        tx.execute("INSERT INTO vagt_schema VALUES ($1)", &[&version])
            .await?;
    }
    tx.commit().await?;
    Ok(VERSION)
}
