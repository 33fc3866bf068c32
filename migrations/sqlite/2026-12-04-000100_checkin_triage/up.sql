-- Why each check-in was triaged as it was, apart from what the patient answered, so a
-- clinician can audit it: the result, the rule that decided it and every rule that applied,
-- and the protocol version of the plan it was judged against.
CREATE TABLE checkin_triage (
    checkin_id BIGINT PRIMARY KEY NOT NULL REFERENCES checkins(id) ON DELETE CASCADE,
    -- 'emergency', 'call-now', 'tell-us', 'to-review' (Needs attention, no red flag) or 'none'.
    result TEXT NOT NULL CHECK (result IN ('emergency', 'call-now', 'tell-us', 'to-review', 'none')),
    -- The rule that decided the result, e.g. 'red flag call-now-2', 'normal sign redness past
    -- day 3', 'answer worried', 'free text', 'photo'; empty when nothing asked for attention.
    rule TEXT NOT NULL,
    -- Every rule that applied, most urgent first: JSON [[rule, what the patient ticked], ...].
    reasons_json TEXT NOT NULL,
    protocol_version TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX checkin_triage_result ON checkin_triage(result);

-- Check-ins from before: the result they were given then (a red flag's group, or "to review"
-- for an answer other than "as expected"), marked as such.
INSERT INTO checkin_triage (checkin_id, result, rule, reasons_json, protocol_version, created_at)
SELECT id,
       CASE WHEN urgency IN ('emergency', 'call-now', 'tell-us') THEN urgency
            WHEN answer <> 'fine' THEN 'to-review'
            ELSE 'none' END,
       CASE WHEN urgency IN ('emergency', 'call-now', 'tell-us') THEN 'red flag ' || urgency
            WHEN answer <> 'fine' THEN 'answer ' || answer
            ELSE '' END,
       '[["recorded before triage reasons were kept",""]]',
       '',
       created_at
FROM checkins;

-- The one reminder the clinic gets when a check-in that waits for a reply (no alert was sent)
-- is not acknowledged within its reply time. An outbox like checkin_alerts (the unique key
-- makes it once), sent by the worker with the same lease and retry rules; acknowledging the
-- check-in first cancels it.
CREATE TABLE checkin_overdue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    checkin_id BIGINT NOT NULL UNIQUE REFERENCES checkins(id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    -- The end of the reply time: not sent before.
    next_attempt_at TIMESTAMP NOT NULL,
    lease_expires_at TIMESTAMP,
    -- The claim that holds the row while it is sent (see reminders.lease_token).
    lease_token TEXT,
    last_error TEXT,
    sent_at TIMESTAMP,
    message_id TEXT NOT NULL UNIQUE,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX checkin_overdue_due ON checkin_overdue(status, next_attempt_at);

-- How many working days (Monday to Friday, in the clinic's zone) the clinic takes to answer
-- a check-in that waits for a reply.
ALTER TABLE clinic ADD COLUMN reply_days INTEGER NOT NULL DEFAULT 1;
