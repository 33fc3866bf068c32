ALTER TABLE clinic DROP COLUMN emergency_number;
