-- The Outcomes page's facts (issue #26): one row per live treatment, with what the page groups
-- by (its local date, protocol version, depth band, practitioner) and counters kept in the same
-- transaction as the event they count (a check-in and its triage result, an email that failed
-- for good, the patient unsubscribing). The page groups these rows in one query per breakdown
-- and never reads the reminders (1M rows at 100,000 treatments). A deleted treatment's rows go.
CREATE TABLE treatment_outcomes (
    treatment_id BIGINT PRIMARY KEY NOT NULL REFERENCES treatments(id),
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    -- The treatment's date on the clinic's wall clock.
    treated_on DATE NOT NULL,
    protocol_version TEXT NOT NULL,
    -- The band of the deepest area's needle depth: 'to-0.5' (up to 0.5 mm), '0.5-1.0',
    -- '1.0-1.5' (above the first, up to the second), 'over-1.5'.
    depth_band TEXT NOT NULL CHECK (depth_band IN ('to-0.5', '0.5-1.0', '1.0-1.5', 'over-1.5')),
    practitioner_id BIGINT NOT NULL REFERENCES users(id),
    checkins INTEGER NOT NULL DEFAULT 0,
    -- Check-ins by triage result (checkin_triage.result): 'emergency', 'call-now', 'tell-us',
    -- 'to-review', 'none' (as expected).
    emergency INTEGER NOT NULL DEFAULT 0,
    call_now INTEGER NOT NULL DEFAULT 0,
    tell_us INTEGER NOT NULL DEFAULT 0,
    to_review INTEGER NOT NULL DEFAULT 0,
    as_expected INTEGER NOT NULL DEFAULT 0,
    -- Reminders that failed for good (counted when they failed; a retry does not undo it).
    emails_failed INTEGER NOT NULL DEFAULT 0,
    -- 1 when the patient unsubscribed while this was their latest treatment.
    unsubscribed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX treatment_outcomes_treated_on ON treatment_outcomes(treated_on);
CREATE INDEX treatment_outcomes_patient ON treatment_outcomes(patient_id, treated_on);

-- One row per (treatment, area) and (treatment, add-on), with the date copied so the period
-- is read from their own index.
CREATE TABLE treatment_outcome_areas (
    treatment_id BIGINT NOT NULL REFERENCES treatment_outcomes(treatment_id) ON DELETE CASCADE,
    area_id TEXT NOT NULL,
    treated_on DATE NOT NULL,
    PRIMARY KEY (treatment_id, area_id)
);
CREATE INDEX treatment_outcome_areas_treated_on ON treatment_outcome_areas(treated_on);

CREATE TABLE treatment_outcome_add_ons (
    treatment_id BIGINT NOT NULL REFERENCES treatment_outcomes(treatment_id) ON DELETE CASCADE,
    add_on TEXT NOT NULL,
    treated_on DATE NOT NULL,
    PRIMARY KEY (treatment_id, add_on)
);
CREATE INDEX treatment_outcome_add_ons_treated_on ON treatment_outcome_add_ons(treated_on);

-- The acknowledged check-ins alone, with what the times need (the page reads them from here,
-- joined to their treatments' rows): a small index, growing with the answers, not with all
-- check-ins.
CREATE INDEX checkins_acknowledged ON checkins(treatment_id, acknowledged_at, created_at)
    WHERE acknowledged_at IS NOT NULL;

-- What was recorded before: every live treatment, its check-ins by result, its failed
-- reminders, and an unsubscribe on the patient's latest treatment from before it.
INSERT INTO treatment_outcomes (treatment_id, patient_id, treated_on, protocol_version, depth_band,
    practitioner_id, checkins, emergency, call_now, tell_us, to_review, as_expected,
    emails_failed, unsubscribed)
SELECT t.id, t.patient_id, date(t.treated_at_local), COALESCE(json_extract(t.plan_json, '$.protocol_version'), ''),
       CASE WHEN d.deepest <= 0.5 THEN 'to-0.5'
            WHEN d.deepest <= 1.0 THEN '0.5-1.0'
            WHEN d.deepest <= 1.5 THEN '1.0-1.5'
            ELSE 'over-1.5' END,
       t.practitioner_id,
       (SELECT COUNT(*) FROM checkins c WHERE c.treatment_id = t.id),
       (SELECT COUNT(*) FROM checkins c JOIN checkin_triage r ON r.checkin_id = c.id
         WHERE c.treatment_id = t.id AND r.result = 'emergency'),
       (SELECT COUNT(*) FROM checkins c JOIN checkin_triage r ON r.checkin_id = c.id
         WHERE c.treatment_id = t.id AND r.result = 'call-now'),
       (SELECT COUNT(*) FROM checkins c JOIN checkin_triage r ON r.checkin_id = c.id
         WHERE c.treatment_id = t.id AND r.result = 'tell-us'),
       (SELECT COUNT(*) FROM checkins c JOIN checkin_triage r ON r.checkin_id = c.id
         WHERE c.treatment_id = t.id AND r.result = 'to-review'),
       (SELECT COUNT(*) FROM checkins c JOIN checkin_triage r ON r.checkin_id = c.id
         WHERE c.treatment_id = t.id AND r.result = 'none'),
       (SELECT COUNT(*) FROM reminders m WHERE m.treatment_id = t.id AND m.status = 'failed'),
       CASE WHEN p.unsubscribed_at IS NOT NULL AND t.id = (
            SELECT l.id FROM treatments l
             WHERE l.patient_id = t.patient_id AND l.deleted_at IS NULL
               AND l.treated_at <= p.unsubscribed_at
             ORDER BY l.treated_at DESC, l.id DESC LIMIT 1) THEN 1 ELSE 0 END
FROM treatments t
JOIN patients p ON p.id = t.patient_id
JOIN (SELECT treatment_id, MAX(depth_mm) AS deepest FROM treatment_areas GROUP BY treatment_id) d
  ON d.treatment_id = t.id
WHERE t.deleted_at IS NULL;

INSERT INTO treatment_outcome_areas (treatment_id, area_id, treated_on)
SELECT DISTINCT a.treatment_id, a.area_id, o.treated_on
FROM treatment_areas a JOIN treatment_outcomes o ON o.treatment_id = a.treatment_id;

INSERT INTO treatment_outcome_add_ons (treatment_id, add_on, treated_on)
SELECT DISTINCT o.treatment_id, j.value, o.treated_on
FROM treatment_outcomes o
JOIN treatments t ON t.id = o.treatment_id,
     json_each(t.plan_json, '$.tailoring.add_ons') j;
