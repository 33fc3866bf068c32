-- A counter per row whose text appears on a patient's sheet, raised by every
-- change. The sheet cache and its ETag are keyed by these, not by updated_at:
-- two edits in the same clock tick, or clocks that differ between instances,
-- still give a new key.
ALTER TABLE treatments ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE patients ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE clinic ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
