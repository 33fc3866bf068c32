-- Patients' answers to "How is your skin today?", from the link in their emails and sheet.
-- Health details stay here: the alert email says only that a patient asked for help.
CREATE TABLE checkins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    treatment_id BIGINT NOT NULL REFERENCES treatments(id),
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    -- 'fine', 'unsure' or 'worried'.
    answer TEXT NOT NULL CHECK (answer IN ('fine', 'unsure', 'worried')),
    -- Local calendar days after the treatment day when it was answered.
    day INTEGER NOT NULL,
    -- The most urgent group ticked: 'emergency', 'call-now', 'tell-us', or 'none'.
    urgency TEXT NOT NULL,
    -- What was ticked, as the patient read it: JSON [[group, text], ...].
    ticked_json TEXT NOT NULL,
    note TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    acknowledged_at TIMESTAMP,
    acknowledged_by BIGINT REFERENCES users(id),
    acknowledged_note TEXT
);
CREATE INDEX checkins_treatment ON checkins(treatment_id, created_at);
CREATE INDEX checkins_open ON checkins(acknowledged_at, created_at);

-- Photos apart from the answers, so lists never read the blobs; in the database so that
-- several app instances on PostgreSQL share them. Pruned after the retention setting.
CREATE TABLE checkin_photos (
    checkin_id BIGINT PRIMARY KEY NOT NULL REFERENCES checkins(id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX checkin_photos_created ON checkin_photos(created_at);

-- The alert email to the clinic, one per urgent check-in (the unique key makes it once),
-- sent by the reminder worker with the outbox's lease and retry rules.
CREATE TABLE checkin_alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    checkin_id BIGINT NOT NULL UNIQUE REFERENCES checkins(id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_expires_at TIMESTAMP,
    last_error TEXT,
    sent_at TIMESTAMP,
    message_id TEXT NOT NULL UNIQUE,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX checkin_alerts_due ON checkin_alerts(status, next_attempt_at);
