-- Fenced leases: each claim writes a random token into the rows it takes, and an outcome is
-- recorded only while that token still holds the row (`WHERE id = ? AND lease_token = ?`), so a
-- worker whose lease ran out and was taken over can no longer change the row.
ALTER TABLE reminders ADD COLUMN lease_token TEXT;
ALTER TABLE checkin_alerts ADD COLUMN lease_token TEXT;
