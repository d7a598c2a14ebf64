-- The replay ledger (store.ReplayLedger): one row per signed request a node
-- accepted, keyed by a SHA-256 of its signature, kept until the request's
-- date leaves the clock-skew window. retry_until, when set, lets the same
-- request be claimed once more before then (it failed without effect).
CREATE TABLE replay_ledger (
	id          BYTEA PRIMARY KEY,
	expires     TIMESTAMPTZ NOT NULL,
	retry_until TIMESTAMPTZ
);
CREATE INDEX replay_ledger_expires ON replay_ledger (expires);
