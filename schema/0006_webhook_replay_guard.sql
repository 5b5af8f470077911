-- 0006_webhook_replay_guard.sql: a replay guard every agent shares, and what a webhook
-- signature covers. Every statement is an ADDITION TO THE SEED.

-- Addition to the seed: the signed requests a webhook accepted, kept until their
-- timestamp can no longer pass the replay window. The key is the HMAC that matched (the
-- 32 bytes the listener computed, not the header text, so re-spelling the header cannot
-- make a second key) with its t: the listener inserts it in the same statement that
-- inserts the execution, so a request is either stored with its guard row or not at all
-- (and may be retried). Kept in the database, every agent on it and every restart sees
-- it. execution_id names the run the request queued. No foreign keys: the hot insert
-- takes no row locks on webhooks or executions; rows of a deleted webhook simply expire.
CREATE TABLE webhook_replays (
  webhook_id UUID NOT NULL,
  signature BYTEA NOT NULL CONSTRAINT ck_webhook_replays_signature
    CHECK (octet_length(signature) = 32),
  t BIGINT NOT NULL,
  execution_id UUID NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (webhook_id, signature, t)
);

-- Addition to the seed: agents prune expired rows (DELETE ... WHERE expires_at < now())
-- every minute; this index keeps that cheap.
CREATE INDEX idx_webhook_replays_expires_at ON webhook_replays (expires_at);

-- Addition to the seed: what a webhook's signature covers. 'full' (the default for new
-- webhooks): HMAC-SHA256 of "<t>.<METHOD>.<path?query>.<body>". 'legacy': the scheme
-- before this version, "<t>.<body>", still accepted (as well as 'full') so existing
-- senders keep working for one version; webhooks that exist when this runs are set to
-- 'legacy' for that reason, new ones get 'full'.
ALTER TABLE webhooks
  ADD COLUMN signature_scheme TEXT NOT NULL DEFAULT 'legacy'
    CONSTRAINT ck_webhooks_signature_scheme CHECK (signature_scheme IN ('full', 'legacy'));
ALTER TABLE webhooks ALTER COLUMN signature_scheme SET DEFAULT 'full';
