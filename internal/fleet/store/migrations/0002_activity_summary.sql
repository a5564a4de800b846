-- Activity summarised at ingest: the overview's timeline and the spike
-- detector read hours, not events. The ingest adds only what it newly
-- stored, so a run sent twice counts once.
-- The activity keyed by organisation and hour first: an organisation's
-- hours and the check whether a server was already active in an hour are
-- reads of the key. (A piece of evidence has one time, so the key still
-- stores it once.)
CREATE TABLE activity_by_hour (
  org_id TEXT NOT NULL,
  hour BIGINT NOT NULL,
  server TEXT NOT NULL,
  fp TEXT NOT NULL,
  kind TEXT NOT NULL,
  PRIMARY KEY (org_id, hour, server, fp)
);
INSERT INTO activity_by_hour (org_id, hour, server, fp, kind) SELECT org_id, hour, server, fp, kind FROM activity;
DROP TABLE activity;
ALTER TABLE activity_by_hour RENAME TO activity;
-- The fleet per hour: organisations and servers with activity, and
-- activity per kind (finding stage).
CREATE TABLE activity_hours (
  hour BIGINT PRIMARY KEY,
  orgs INTEGER NOT NULL,
  servers INTEGER NOT NULL
);
CREATE TABLE activity_hour_kinds (
  hour BIGINT NOT NULL,
  kind TEXT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (hour, kind)
);
INSERT INTO activity_hours (hour, orgs, servers) SELECT hour, COUNT(DISTINCT org_id), COUNT(DISTINCT org_id || '/' || server) FROM activity GROUP BY hour;
INSERT INTO activity_hour_kinds (hour, kind, n) SELECT hour, kind, COUNT(*) FROM activity GROUP BY hour, kind;
-- Servers per organisation, state and inconclusive flag (decoys left
-- out), recounted for the organisation at each ingest: the overview reads
-- it instead of grouping every server.
CREATE TABLE org_states (
  org_id TEXT NOT NULL,
  state TEXT NOT NULL,
  inconclusive INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (org_id, state, inconclusive)
);
INSERT INTO org_states (org_id, state, inconclusive, n) SELECT org_id, state, inconclusive, COUNT(*) FROM servers WHERE name NOT LIKE 'decoy:%' GROUP BY org_id, state, inconclusive;
-- Nothing reads findings by server: the index only slowed ingest.
DROP INDEX findings_server;
