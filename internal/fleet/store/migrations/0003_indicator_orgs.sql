-- Indicators keyed by where they were seen. A run writes one organisation's
-- few servers, so keying by organisation and server first keeps its rows
-- on a few pages instead of scattered by value over the whole table.
CREATE TABLE indicators_by_server (
  org_id TEXT NOT NULL,
  server TEXT NOT NULL,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  first_ms BIGINT NOT NULL,
  last_ms BIGINT NOT NULL,
  max_rank INTEGER NOT NULL,
  PRIMARY KEY (org_id, server, kind, value)
);
INSERT INTO indicators_by_server (org_id, server, kind, value, first_ms, last_ms, max_rank) SELECT org_id, server, kind, value, first_ms, last_ms, max_rank FROM indicators;
DROP TABLE indicators;
ALTER TABLE indicators_by_server RENAME TO indicators;
-- Each indicator per organisation: what the cross-customer view and the
-- "reached a new organisation" alert read. first_ms is the earliest
-- non-zero time (0 when none had one); servers counts the indicators rows.
-- Its value index changes only when an indicator first reaches an
-- organisation; later runs update the organisation's own rows.
CREATE TABLE indicator_orgs (
  org_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  first_ms BIGINT NOT NULL,
  last_ms BIGINT NOT NULL,
  servers INTEGER NOT NULL,
  max_rank INTEGER NOT NULL,
  PRIMARY KEY (org_id, kind, value)
);
CREATE INDEX indicator_orgs_value ON indicator_orgs (kind, value);
INSERT INTO indicator_orgs (org_id, kind, value, first_ms, last_ms, servers, max_rank)
  SELECT org_id, kind, value, COALESCE(MIN(CASE WHEN first_ms = 0 THEN NULL ELSE first_ms END), 0), MAX(last_ms), COUNT(*), MAX(max_rank) FROM indicators GROUP BY org_id, kind, value;
