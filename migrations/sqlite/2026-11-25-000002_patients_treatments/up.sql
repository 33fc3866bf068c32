-- The clinic's own details, used on every sheet and email. One row.
CREATE TABLE clinic (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    address TEXT NOT NULL,
    opening_hours TEXT NOT NULL,
    out_of_hours TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    send_hour INTEGER NOT NULL CHECK (send_hour BETWEEN 0 AND 23),
    sender_email TEXT NOT NULL,
    configured BOOLEAN NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO clinic (id, name, phone, email, address, opening_hours, out_of_hours, time_zone, send_hour, sender_email, configured, updated_at)
VALUES (1, 'Our clinic', '', '', '', '', 'If you are worried out of hours, call your local urgent care line.', 'Europe/London', 9, 'aftercare@localhost', 0, CURRENT_TIMESTAMP);

CREATE TABLE patients (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    -- Lower-cased name for search and ordering.
    name_search TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    date_of_birth DATE,
    email_consent BOOLEAN NOT NULL DEFAULT 0,
    consent_by BIGINT REFERENCES users(id),
    consent_at TIMESTAMP,
    unsubscribed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX patients_name_search ON patients(name_search);
CREATE INDEX patients_email ON patients(email);

CREATE TABLE treatments (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    practitioner_id BIGINT NOT NULL REFERENCES users(id),
    -- Wall-clock time in the clinic's zone, and the same instant in UTC.
    treated_at_local TIMESTAMP NOT NULL,
    treated_at TIMESTAMP NOT NULL,
    time_zone TEXT NOT NULL,
    device TEXT NOT NULL,
    products TEXT NOT NULL,
    internal_notes TEXT NOT NULL,
    -- The computed plan as given to the patient (JSON), so a reprint years later matches.
    plan_json TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP,
    deleted_by BIGINT REFERENCES users(id)
);
CREATE INDEX treatments_patient ON treatments(patient_id, treated_at);

CREATE TABLE treatment_areas (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    treatment_id BIGINT NOT NULL REFERENCES treatments(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    area_id TEXT NOT NULL,
    depth_mm DOUBLE PRECISION NOT NULL
);
CREATE INDEX treatment_areas_treatment ON treatment_areas(treatment_id);
