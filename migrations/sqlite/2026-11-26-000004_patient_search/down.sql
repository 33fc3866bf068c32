CREATE INDEX patients_name_search ON patients(name_search);
DROP INDEX patients_search_order;
DROP TRIGGER patients_fts_update;
DROP TRIGGER patients_fts_delete;
DROP TRIGGER patients_fts_insert;
DROP TABLE patients_fts;
