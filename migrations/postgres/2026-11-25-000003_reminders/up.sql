-- The outbox: every reminder email of every treatment, written with the
-- treatment in one transaction. The worker claims due rows with a lease.
CREATE TABLE reminders (
    id BIGSERIAL PRIMARY KEY,
    treatment_id BIGINT NOT NULL REFERENCES treatments(id),
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    -- Stable within a plan: "evening", "day-2", "active-retinoids", "results", "next-session".
    reminder_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    day INTEGER NOT NULL,
    subject TEXT NOT NULL,
    -- When it is meant to go (UTC); next_attempt_at moves on retries.
    send_at TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    lease_expires_at TIMESTAMP,
    sent_at TIMESTAMP,
    message_id TEXT NOT NULL UNIQUE,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX reminders_due ON reminders(status, next_attempt_at);
CREATE INDEX reminders_treatment ON reminders(treatment_id);
CREATE INDEX reminders_patient ON reminders(patient_id, status);
CREATE INDEX reminders_send_at ON reminders(send_at);
