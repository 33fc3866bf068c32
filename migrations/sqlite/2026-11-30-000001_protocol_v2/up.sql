-- The number for the emergency red flags ("Call 999 straight away if…"). Empty means: derive it
-- from the clinic's time zone (999 in the UK, 911 in North America, 112 in most of Europe …).
ALTER TABLE clinic ADD COLUMN emergency_number TEXT NOT NULL DEFAULT '';
