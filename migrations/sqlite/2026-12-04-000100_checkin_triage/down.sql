ALTER TABLE clinic DROP COLUMN reply_days;
DROP TABLE checkin_overdue;
DROP TABLE checkin_triage;
