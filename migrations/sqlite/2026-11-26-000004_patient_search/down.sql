DROP TRIGGER patients_fts_update;
DROP TRIGGER patients_fts_delete;
DROP TRIGGER patients_fts_insert;
DROP TABLE patients_fts;
