-- Why a reminder is in its state (cancelled, skipped) gets its own column;
-- last_error keeps only what the mail server or the message builder said.
ALTER TABLE reminders ADD COLUMN reason TEXT;
UPDATE reminders SET reason = last_error, last_error = NULL
 WHERE status IN ('cancelled', 'skipped');
