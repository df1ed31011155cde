-- An experiment, not a migration (benches/run-pg-ship.sh): the overlapping-commit design of
-- issue #14 in its cheapest form. Rows are ordered by (the shipping transaction's xid, index);
-- no sequencing lock, dedup keys unique in a table of their own, each group's local range
-- recorded once per node. Followers would read below pg_snapshot_xmin(pg_current_snapshot()).
CREATE TABLE xlog (xid xid8 NOT NULL, i int NOT NULL, node text NOT NULL, origin bigint NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(), dedup bytea, payload bytea NOT NULL, PRIMARY KEY (xid, i));
CREATE TABLE xdedup (key bytea PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE xshipped (node text, start_origin bigint, end_origin bigint, PRIMARY KEY (node, start_origin));
CREATE FUNCTION ship_x(p_node text, p_start bigint, p_origins bigint[], p_dedups bytea[], p_ticks bool[],
                       p_payloads bytea[], p_window float8, p_end bigint)
RETURNS xid8 LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  x xid8;
  cutoff timestamptz := now() - make_interval(secs => p_window);
  leads boolean;
  k int;
BEGIN
  INSERT INTO xshipped VALUES (p_node, p_start, p_end) ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS k = ROW_COUNT;
  IF k = 0 THEN RETURN NULL; END IF;
  x := pg_current_xact_id();
  SELECT EXISTS (SELECT 1 FROM vagt_leader WHERE holder = p_node AND expires_at > clock_timestamp()) INTO leads;
  WITH fresh AS (
    INSERT INTO xdedup AS d (key, at)
    SELECT DISTINCT r.dedup, now() FROM unnest(p_dedups) r(dedup) WHERE r.dedup IS NOT NULL ORDER BY 1
    ON CONFLICT (key) DO UPDATE SET at = EXCLUDED.at WHERE d.at <= cutoff
    RETURNING key)
  INSERT INTO xlog (xid, i, node, origin, dedup, payload)
  SELECT x, r.i, p_node, r.origin, r.dedup, r.payload
  FROM unnest(p_origins, p_dedups, p_ticks, p_payloads) WITH ORDINALITY AS r(origin, dedup, tick, payload, i)
  WHERE (r.dedup IS NULL OR r.dedup IN (SELECT key FROM fresh)) AND (NOT r.tick OR leads);
  RETURN x;
END $$;

-- The staged design (issue #14): the ACK waits only for one row per group in a table no other
-- writer locks (payloads uncompressed, out of line); the serialized vagt_ship orders the records
-- afterwards, off the ACK path.
CREATE TABLE xstage (node text NOT NULL, start_ bigint NOT NULL, end_ bigint NOT NULL,
  staged_at timestamptz NOT NULL DEFAULT now(), origins bigint[] NOT NULL, payloads bytea[] NOT NULL,
  PRIMARY KEY (node, start_));
ALTER TABLE xstage ALTER COLUMN payloads SET STORAGE EXTERNAL;
