-- roeh schema, version 13: the node that records each camera
-- (docs/design/0014-nodes-on-one-database.md). Several `roeh serve` processes may share one
-- database, each with its own `[server] node`; a process records only the cameras whose node is
-- its own. NULL: recorded by the process without a node (a site of one process, as before).
ALTER TABLE cameras ADD COLUMN node TEXT;
