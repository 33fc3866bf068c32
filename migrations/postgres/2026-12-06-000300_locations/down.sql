DROP TABLE user_locations;
DROP INDEX treatments_location;
ALTER TABLE treatments DROP COLUMN location_id;
ALTER TABLE clinic ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE clinic ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE clinic ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE clinic ADD COLUMN opening_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE clinic ADD COLUMN out_of_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE clinic ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Europe/London';
ALTER TABLE clinic ADD COLUMN send_hour INTEGER NOT NULL DEFAULT 9;
ALTER TABLE clinic ADD COLUMN sender_email TEXT NOT NULL DEFAULT 'aftercare@localhost';
ALTER TABLE clinic ADD COLUMN emergency_number TEXT NOT NULL DEFAULT '';
ALTER TABLE clinic ADD COLUMN reply_days INTEGER NOT NULL DEFAULT 1;
UPDATE clinic SET (phone, email, address, opening_hours, out_of_hours, time_zone, send_hour,
    sender_email, emergency_number, reply_days) =
    (SELECT phone, email, address, opening_hours, out_of_hours, time_zone, send_hour,
        sender_email, emergency_number, reply_days FROM locations ORDER BY id LIMIT 1);
DROP TABLE locations;
