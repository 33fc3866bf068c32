-- How the clinic writes dates and times on every page, sheet and email: en-GB (day-month,
-- 24-hour clock) or en-US (month-day, 12-hour clock). Existing clinics keep what they had.
ALTER TABLE clinic ADD COLUMN locale TEXT NOT NULL DEFAULT 'en-GB';
