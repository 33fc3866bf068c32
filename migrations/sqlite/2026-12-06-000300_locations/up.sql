-- A clinic's sites. The clinic keeps what they share (its name, how dates read, retention,
-- the protocol); each location has its own contact lines, zone, send hour, sender and reply
-- time. Today's clinic settings become the first location, so a single-site clinic sees no
-- change and its pending emails keep their times.
CREATE TABLE locations (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    opening_hours TEXT NOT NULL DEFAULT '',
    out_of_hours TEXT NOT NULL DEFAULT '',
    emergency_number TEXT NOT NULL DEFAULT '',
    time_zone TEXT NOT NULL,
    send_hour INTEGER NOT NULL CHECK (send_hour BETWEEN 0 AND 23),
    sender_email TEXT NOT NULL,
    reply_to TEXT NOT NULL DEFAULT '',
    reply_days INTEGER NOT NULL DEFAULT 1,
    -- A closed location takes no new treatments; its patients' care goes on.
    closed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO locations (id, name, phone, email, address, opening_hours, out_of_hours,
    emergency_number, time_zone, send_hour, sender_email, reply_to, reply_days, created_at, updated_at)
SELECT 1, name, phone, email, address, opening_hours, out_of_hours, emergency_number, time_zone,
    send_hour, sender_email, '', reply_days, updated_at, updated_at
FROM clinic WHERE id = 1;

ALTER TABLE clinic DROP COLUMN phone;
ALTER TABLE clinic DROP COLUMN email;
ALTER TABLE clinic DROP COLUMN address;
ALTER TABLE clinic DROP COLUMN opening_hours;
ALTER TABLE clinic DROP COLUMN out_of_hours;
ALTER TABLE clinic DROP COLUMN time_zone;
ALTER TABLE clinic DROP COLUMN send_hour;
ALTER TABLE clinic DROP COLUMN sender_email;
ALTER TABLE clinic DROP COLUMN emergency_number;
ALTER TABLE clinic DROP COLUMN reply_days;

-- Every treatment so far was at the first location. (SQLite cannot add a column with both a
-- REFERENCES clause and a default; the use cases only ever write a location that exists.)
ALTER TABLE treatments ADD COLUMN location_id BIGINT NOT NULL DEFAULT 1;
CREATE INDEX treatments_location ON treatments(location_id, treated_at);

-- The locations a user works at. None: every location (admins see all in any case).
CREATE TABLE user_locations (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    location_id BIGINT NOT NULL REFERENCES locations(id),
    PRIMARY KEY (user_id, location_id)
);
