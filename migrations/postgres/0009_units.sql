-- roeh schema, version 9: kinds of patrol units, and the short text an operator sends with a
-- dispatch. Same portability rules as 0001.
--
-- A unit's kind decides what it may receive: `volunteer` (the parents' patrol that walks youth
-- hangouts on weekend nights) gets the place and the dispatch's text only, never pictures,
-- footage or names; the others (`joint`: a police officer with a municipal inspector, `police`,
-- `municipal`) get the whole alert.

ALTER TABLE units ADD COLUMN kind TEXT NOT NULL DEFAULT 'joint'
    CHECK (kind IN ('joint', 'police', 'municipal', 'volunteer'));

ALTER TABLE dispatches ADD COLUMN text TEXT;
