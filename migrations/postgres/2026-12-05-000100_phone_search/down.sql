DROP INDEX patients_phone_search;
ALTER TABLE patients DROP COLUMN phone_search;
