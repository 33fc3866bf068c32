ALTER TABLE clinic DROP COLUMN photo_retention_days;
ALTER TABLE clinic DROP COLUMN email_retention_days;
ALTER TABLE clinic DROP COLUMN audit_retention_days;
ALTER TABLE patients DROP COLUMN erased_at;
