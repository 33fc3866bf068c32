ALTER TABLE checkin_alerts DROP COLUMN lease_token;
ALTER TABLE reminders DROP COLUMN lease_token;
