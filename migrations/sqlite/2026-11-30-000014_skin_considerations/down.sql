ALTER TABLE patients DROP COLUMN skin_considerations;
