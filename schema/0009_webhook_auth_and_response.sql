-- 0009_webhook_auth_and_response.sql: how a webhook authenticates its requests and when
-- it answers them (issue 16, items 3 and 4). Every statement is an ADDITION TO THE SEED.

-- Addition to the seed: when the listener answers. 'immediately' (the default, as
-- before): 202 with the queued execution's id. 'when_finished': the request waits until
-- a Respond to webhook node answers or the run ends (then the last node's output as
-- JSON), at most response_timeout seconds (then 504 with the execution id).
ALTER TABLE webhooks
  ADD COLUMN response_mode TEXT NOT NULL DEFAULT 'immediately'
    CONSTRAINT ck_webhooks_response_mode
    CHECK (response_mode IN ('immediately', 'when_finished'));

-- Addition to the seed: how long a 'when_finished' request waits (seconds).
ALTER TABLE webhooks
  ADD COLUMN response_timeout INTEGER NOT NULL DEFAULT 30
    CONSTRAINT ck_webhooks_response_timeout
    CHECK (response_timeout >= 1 AND response_timeout <= 3600);

-- Addition to the seed: how requests are authenticated. 'glyphic' (the default):
-- X-Glyphic-Signature; 'github': X-Hub-Signature-256 (HMAC-SHA256 of the body, replay
-- key X-GitHub-Delivery); 'stripe': Stripe-Signature t=...,v1=... (HMAC of "<t>.<body>");
-- 'header': a shared secret in the header named by auth_header; 'basic': HTTP basic with
-- basic_user and the secret as password; 'none': no check (only on a listener bound to
-- 127.0.0.1). The secret is webhooks.secret, encrypted as before.
ALTER TABLE webhooks
  ADD COLUMN auth_mode TEXT NOT NULL DEFAULT 'glyphic'
    CONSTRAINT ck_webhooks_auth_mode
    CHECK (auth_mode IN ('glyphic', 'github', 'stripe', 'header', 'basic', 'none'));

-- Addition to the seed: the header that carries the shared secret (auth_mode 'header').
ALTER TABLE webhooks
  ADD COLUMN auth_header TEXT
    CONSTRAINT ck_webhooks_auth_header
    CHECK (auth_mode <> 'header' OR (auth_header IS NOT NULL AND auth_header <> ''));

-- Addition to the seed: the user name HTTP basic expects (auth_mode 'basic').
ALTER TABLE webhooks
  ADD COLUMN basic_user TEXT
    CONSTRAINT ck_webhooks_basic_user
    CHECK (auth_mode <> 'basic' OR (basic_user IS NOT NULL AND basic_user <> ''));
