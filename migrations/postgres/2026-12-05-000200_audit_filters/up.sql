-- The admin's audit log is filtered by action (an exact name, "patient.created") and by patient
-- ("patient 7", which is also how erasure and export find a patient's entries); newest first
-- within each, so a filtered page reads one index range. Dates use audit_log_at.
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
