UPDATE reminders SET last_error = reason WHERE reason IS NOT NULL;
ALTER TABLE reminders DROP COLUMN reason;
