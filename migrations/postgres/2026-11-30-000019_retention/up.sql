-- A patient erased at their request keeps the row their treatments point at, without identity
-- ("Erased patient #N"); from then on no link naming them or their treatments works.
ALTER TABLE patients ADD COLUMN erased_at TIMESTAMP;

-- How long records are kept, in days, applied by the worker's housekeeping. NULL keeps them
-- for ever. The audit log 6 years (the usual time limit for a claim), reminder emails 2 years
-- after their plan's last one, check-in photos 90 days (the default of
-- AFTERCARE_PHOTO_RETENTION_DAYS, which this setting replaces).
ALTER TABLE clinic ADD COLUMN audit_retention_days INTEGER DEFAULT 2190;
ALTER TABLE clinic ADD COLUMN email_retention_days INTEGER DEFAULT 730;
ALTER TABLE clinic ADD COLUMN photo_retention_days INTEGER NOT NULL DEFAULT 90;
