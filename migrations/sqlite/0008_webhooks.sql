-- Outbound webhooks: subscriptions and the delivery outbox.
--
-- A subscription receives the committed alert events (alert_events) with a seq above
-- `after_seq` (the last seq when it was created) that pass its filter. The worker enqueues one
-- delivery per matching subscription and event, together with the cursor advance, in one
-- transaction, and only then sends: a restart resumes the outbox and never enqueues twice
-- (UNIQUE (webhook_id, seq)). The body is stored at enqueue, so every attempt sends the same
-- bytes under the same idempotency key.

CREATE TABLE webhooks (
    id          TEXT    PRIMARY KEY,                     -- UUID
    name        TEXT    NOT NULL,
    url         TEXT    NOT NULL,
    secret      TEXT    NOT NULL,                        -- 'enc:v1:' ciphertext (credential key)
    kinds       TEXT    NOT NULL,                        -- JSON array of event kinds; [] = all
    hotspots    TEXT    NOT NULL,                        -- JSON array of hotspot ids; [] = all
    enabled     BIGINT  NOT NULL CHECK (enabled IN (0, 1)),
    after_seq   BIGINT  NOT NULL,                        -- events up to this seq are not sent
    created_at  BIGINT  NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    webhook_id       TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    seq              BIGINT  NOT NULL,                   -- alert_events.seq
    idempotency_key  TEXT    NOT NULL UNIQUE,            -- '<webhook id>-<seq>'
    event_kind       TEXT    NOT NULL,
    body             TEXT    NOT NULL,                   -- the JSON sent on every attempt
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    last_status      BIGINT,                             -- HTTP status of the last attempt
    last_error       TEXT,
    created_at       BIGINT  NOT NULL,
    delivered_at     BIGINT,
    UNIQUE (webhook_id, seq)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);

-- The highest alert event seq the worker has enqueued deliveries for (one row).
CREATE TABLE webhook_cursor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL
);

INSERT INTO webhook_cursor (id, seq) VALUES (1, 0);
