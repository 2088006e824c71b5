-- roeh schema, version 6: RFC 3161 timestamps of checkpoints (docs/design/0005-evidence-format.md
-- §3). Same portability rules as 0001.
--
-- tsa_response holds the time-stamping authority's whole DER TimeStampResp for the SHA-256 of the
-- checkpoint's text, exactly as received and checked (granted, stamping that hash, carrying the
-- request's nonce). NULL when no TSA is configured or the TSA could not be reached; set at most
-- once, never changed afterwards.
ALTER TABLE checkpoints ADD COLUMN tsa_response BYTEA;
