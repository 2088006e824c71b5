-- Outbound integrations besides JSON webhooks.
--
-- A webhook subscription's body format: 'json' (roeh's signed JSON event) or 'cap' (an OASIS
-- CAP 1.2 message, application/cap+xml). Fixed at creation, like the target.
ALTER TABLE webhooks ADD COLUMN format TEXT NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'cap'));

-- The highest alert event seq an outbound channel has had acknowledged (MQTT: the broker's
-- PUBACK), one row per channel. A restart resumes after it: at least once, never skipped.
CREATE TABLE outbound_cursors (
    channel  TEXT    PRIMARY KEY,
    seq      BIGINT  NOT NULL
);
