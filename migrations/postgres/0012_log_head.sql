-- roeh schema, version 12: the log's head. The size of the evidence log, read and advanced by
-- the transaction that appends a leaf, so that leaf indices stay dense with several processes
-- appending at once: the row is locked until the appender commits, and a rolled-back append
-- leaves no hole (a sequence would). Reading the log's size is one row, not a count.
CREATE TABLE log_head (
    id    BIGINT  PRIMARY KEY CHECK (id = 1),
    size  BIGINT  NOT NULL CHECK (size >= 0)
);

INSERT INTO log_head (id, size) SELECT 1, COUNT(*) FROM log_leaves;
