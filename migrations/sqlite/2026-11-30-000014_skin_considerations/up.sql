-- A patient's skin considerations (protocol ids, comma-separated) persist across treatments
-- and are applied to each new plan.
ALTER TABLE patients ADD COLUMN skin_considerations TEXT NOT NULL DEFAULT '';
