CREATE INDEX patients_name_search ON patients(name_search);
DROP INDEX patients_search_order;
-- The extension stays: it may predate this migration or serve others.
DROP INDEX IF EXISTS patients_email_trgm;
DROP INDEX IF EXISTS patients_name_search_trgm;
