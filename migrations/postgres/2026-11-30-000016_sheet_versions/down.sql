ALTER TABLE clinic DROP COLUMN version;
ALTER TABLE patients DROP COLUMN version;
ALTER TABLE treatments DROP COLUMN version;
