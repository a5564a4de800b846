-- The fleet store. Portable SQL: SQLite and PostgreSQL read it as is.
-- Times are Unix milliseconds (UTC); booleans are 0/1 integers.
CREATE TABLE orgs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  sector TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  -- time of the first exploitation-stage finding, 0 before
  exploit_ms BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE servers (
  org_id TEXT NOT NULL REFERENCES orgs(id),
  name TEXT NOT NULL,
  verdict TEXT NOT NULL DEFAULT 'clean',
  inconclusive INTEGER NOT NULL DEFAULT 0,
  exposed INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'clean',
  build TEXT NOT NULL DEFAULT '',
  patch TEXT NOT NULL DEFAULT '',
  hunt_run TEXT NOT NULL DEFAULT '',
  hunt_ms BIGINT NOT NULL DEFAULT 0,
  scan_ms BIGINT NOT NULL DEFAULT 0,
  first_ms BIGINT NOT NULL,
  last_ms BIGINT NOT NULL,
  PRIMARY KEY (org_id, name)
);
CREATE INDEX servers_state ON servers (state);
CREATE TABLE runs (
  id TEXT NOT NULL,
  batch INTEGER NOT NULL,
  org_id TEXT NOT NULL REFERENCES orgs(id),
  kind TEXT NOT NULL,
  started_ms BIGINT NOT NULL,
  received_ms BIGINT NOT NULL,
  items INTEGER NOT NULL,
  PRIMARY KEY (id, batch)
);
CREATE INDEX runs_org ON runs (org_id, started_ms);
-- One hunted server in one run: the history; servers.hunt_run names the current one.
CREATE TABLE server_runs (
  run_id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  server TEXT NOT NULL,
  started_ms BIGINT NOT NULL,
  verdict TEXT NOT NULL,
  inconclusive INTEGER NOT NULL,
  doc TEXT NOT NULL,
  PRIMARY KEY (run_id, org_id, server)
);
CREATE INDEX server_runs_server ON server_runs (org_id, server, started_ms);
CREATE TABLE findings (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  org_id TEXT NOT NULL,
  server TEXT NOT NULL,
  time_ms BIGINT NOT NULL,
  rule TEXT NOT NULL,
  stage TEXT NOT NULL,
  severity TEXT NOT NULL,
  client_ip TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  mailbox TEXT NOT NULL,
  title TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX findings_server ON findings (org_id, server);
CREATE TABLE scan_results (
  run_id TEXT NOT NULL,
  batch INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  org_id TEXT NOT NULL,
  server TEXT NOT NULL,
  time_ms BIGINT NOT NULL,
  target TEXT NOT NULL,
  ip TEXT NOT NULL,
  status TEXT NOT NULL,
  build TEXT NOT NULL,
  vulnerable INTEGER NOT NULL,
  doc TEXT NOT NULL,
  PRIMARY KEY (run_id, batch, seq)
);
CREATE INDEX scan_results_server ON scan_results (org_id, server);
CREATE TABLE decoy_events (
  run_id TEXT NOT NULL,
  batch INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  org_id TEXT NOT NULL,
  server TEXT NOT NULL,
  time_ms BIGINT NOT NULL,
  client TEXT NOT NULL,
  method TEXT NOT NULL,
  uri TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  class TEXT NOT NULL,
  kind TEXT NOT NULL,
  PRIMARY KEY (run_id, batch, seq)
);
-- Exchange-targeted activity, once per piece of evidence however often
-- later runs repeat it: what the spike detector and the timeline count.
CREATE TABLE activity (
  org_id TEXT NOT NULL,
  server TEXT NOT NULL,
  fp TEXT NOT NULL,
  hour BIGINT NOT NULL,
  kind TEXT NOT NULL,
  PRIMARY KEY (org_id, server, fp)
);
CREATE INDEX activity_hour ON activity (hour);
-- Attacker addresses (ip), user agents (ua), web-shell paths (shell_path)
-- and hashes (shell_hash) per server.
CREATE TABLE indicators (
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  org_id TEXT NOT NULL,
  server TEXT NOT NULL,
  first_ms BIGINT NOT NULL,
  last_ms BIGINT NOT NULL,
  -- the furthest finding.Stage rank the indicator reached there
  max_rank INTEGER NOT NULL,
  PRIMARY KEY (kind, value, org_id, server)
);
CREATE INDEX indicators_org ON indicators (org_id, server);
CREATE TABLE mailboxes (
  org_id TEXT NOT NULL,
  server TEXT NOT NULL,
  mailbox TEXT NOT NULL,
  answered INTEGER NOT NULL,
  first_ms BIGINT NOT NULL,
  last_ms BIGINT NOT NULL,
  PRIMARY KEY (org_id, server, mailbox)
);
CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  at_ms BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  acked_by TEXT NOT NULL DEFAULT '',
  acked_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX alerts_at ON alerts (at_ms);
CREATE TABLE alert_orgs (
  alert_id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  PRIMARY KEY (alert_id, org_id)
);
CREATE INDEX alert_orgs_org ON alert_orgs (org_id);
CREATE TABLE spike_hours (
  hour BIGINT PRIMARY KEY,
  orgs INTEGER NOT NULL,
  servers INTEGER NOT NULL,
  median DOUBLE PRECISION NOT NULL,
  mad DOUBLE PRECISION NOT NULL,
  threshold DOUBLE PRECISION NOT NULL,
  alerted INTEGER NOT NULL
);
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE TABLE deliveries (
  alert_id TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_ms BIGINT NOT NULL,
  last_error TEXT NOT NULL,
  PRIMARY KEY (alert_id, webhook_id)
);
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  pw_hash TEXT NOT NULL,
  role TEXT NOT NULL,
  org_id TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_name TEXT NOT NULL,
  csrf TEXT NOT NULL,
  expires_ms BIGINT NOT NULL
);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES orgs(id),
  hash TEXT NOT NULL UNIQUE,
  created_ms BIGINT NOT NULL,
  revoked_ms BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE audit (
  id TEXT PRIMARY KEY,
  time_ms BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX audit_time ON audit (time_ms);
