//! One portable schema for both backends: only types every backend shares
//! (BigInt, Text, Bool, Timestamp, Integer). Timestamps are UTC.

diesel::table! {
    app_settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> BigInt,
        email -> Text,
        ip -> Text,
        succeeded -> Bool,
        at -> Timestamp,
    }
}

diesel::table! {
    password_tokens (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        nonce -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_id -> Nullable<BigInt>,
        actor -> Text,
        action -> Text,
        subject -> Text,
        detail -> Text,
        ip -> Text,
        times -> BigInt,
    }
}

diesel::table! {
    clinic (id) {
        id -> Integer,
        name -> Text,
        configured -> Bool,
        updated_at -> Timestamp,
        version -> BigInt,
        audit_retention_days -> Nullable<Integer>,
        email_retention_days -> Nullable<Integer>,
        photo_retention_days -> Integer,
        locale -> Text,
    }
}

diesel::table! {
    locations (id) {
        id -> BigInt,
        name -> Text,
        phone -> Text,
        email -> Text,
        address -> Text,
        opening_hours -> Text,
        out_of_hours -> Text,
        emergency_number -> Text,
        time_zone -> Text,
        send_hour -> Integer,
        sender_email -> Text,
        reply_to -> Text,
        reply_days -> Integer,
        closed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    user_locations (user_id, location_id) {
        user_id -> BigInt,
        location_id -> BigInt,
    }
}

diesel::table! {
    patients (id) {
        id -> BigInt,
        name -> Text,
        name_search -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        date_of_birth -> Nullable<Date>,
        email_consent -> Bool,
        consent_by -> Nullable<BigInt>,
        consent_at -> Nullable<Timestamp>,
        unsubscribed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        skin_considerations -> Text,
        erased_at -> Nullable<Timestamp>,
        phone_search -> Text,
    }
}

diesel::table! {
    treatments (id) {
        id -> BigInt,
        patient_id -> BigInt,
        practitioner_id -> BigInt,
        treated_at_local -> Timestamp,
        treated_at -> Timestamp,
        time_zone -> Text,
        device -> Text,
        products -> Text,
        internal_notes -> Text,
        plan_json -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        deleted_by -> Nullable<BigInt>,
        version -> BigInt,
        location_id -> BigInt,
    }
}

diesel::table! {
    treatment_areas (id) {
        id -> BigInt,
        treatment_id -> BigInt,
        position -> Integer,
        area_id -> Text,
        depth_mm -> Double,
    }
}

diesel::table! {
    reminders (id) {
        id -> BigInt,
        treatment_id -> BigInt,
        patient_id -> BigInt,
        reminder_key -> Text,
        kind -> Text,
        day -> Integer,
        subject -> Text,
        send_at -> Timestamp,
        next_attempt_at -> Timestamp,
        status -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        reason -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        message_id -> Text,
        updated_at -> Timestamp,
        lease_token -> Nullable<Text>,
    }
}

diesel::table! {
    worker_heartbeats (worker) {
        worker -> Text,
        beat_at -> Timestamp,
    }
}

diesel::table! {
    checkins (id) {
        id -> BigInt,
        treatment_id -> BigInt,
        patient_id -> BigInt,
        answer -> Text,
        day -> Integer,
        urgency -> Text,
        ticked_json -> Text,
        note -> Text,
        ip -> Text,
        created_at -> Timestamp,
        acknowledged_at -> Nullable<Timestamp>,
        acknowledged_by -> Nullable<BigInt>,
        acknowledged_note -> Nullable<Text>,
    }
}

diesel::table! {
    checkin_photos (checkin_id) {
        checkin_id -> BigInt,
        content_type -> Text,
        data -> Binary,
        created_at -> Timestamp,
    }
}

diesel::table! {
    checkin_alerts (id) {
        id -> BigInt,
        checkin_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_expires_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        message_id -> Text,
        updated_at -> Timestamp,
        lease_token -> Nullable<Text>,
    }
}

diesel::table! {
    checkin_triage (checkin_id) {
        checkin_id -> BigInt,
        result -> Text,
        rule -> Text,
        reasons_json -> Text,
        protocol_version -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    checkin_overdue (id) {
        id -> BigInt,
        checkin_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_expires_at -> Nullable<Timestamp>,
        lease_token -> Nullable<Text>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        message_id -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    treatment_outcomes (treatment_id) {
        treatment_id -> BigInt,
        patient_id -> BigInt,
        treated_on -> Date,
        protocol_version -> Text,
        depth_band -> Text,
        practitioner_id -> BigInt,
        checkins -> Integer,
        emergency -> Integer,
        call_now -> Integer,
        tell_us -> Integer,
        to_review -> Integer,
        as_expected -> Integer,
        emails_failed -> Integer,
        unsubscribed -> Integer,
    }
}

diesel::table! {
    treatment_outcome_areas (treatment_id, area_id) {
        treatment_id -> BigInt,
        area_id -> Text,
        treated_on -> Date,
    }
}

diesel::table! {
    treatment_outcome_add_ons (treatment_id, add_on) {
        treatment_id -> BigInt,
        add_on -> Text,
        treated_on -> Date,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(checkins -> treatments (treatment_id));
diesel::joinable!(checkins -> patients (patient_id));
diesel::joinable!(checkin_photos -> checkins (checkin_id));
diesel::joinable!(checkin_alerts -> checkins (checkin_id));
diesel::joinable!(checkin_triage -> checkins (checkin_id));
diesel::joinable!(checkin_overdue -> checkins (checkin_id));
diesel::joinable!(reminders -> treatments (treatment_id));
diesel::joinable!(reminders -> patients (patient_id));
diesel::joinable!(treatments -> patients (patient_id));
diesel::joinable!(treatments -> users (practitioner_id));
diesel::joinable!(treatments -> locations (location_id));
diesel::joinable!(user_locations -> users (user_id));
diesel::joinable!(user_locations -> locations (location_id));
diesel::joinable!(treatment_areas -> treatments (treatment_id));
diesel::joinable!(password_tokens -> users (user_id));
diesel::joinable!(treatment_outcome_areas -> treatment_outcomes (treatment_id));
diesel::joinable!(treatment_outcome_add_ons -> treatment_outcomes (treatment_id));

diesel::allow_tables_to_appear_in_same_query!(
    app_settings,
    users,
    sessions,
    login_attempts,
    password_tokens,
    audit_log,
    clinic,
    locations,
    user_locations,
    patients,
    treatments,
    treatment_areas,
    reminders,
    worker_heartbeats,
    checkins,
    checkin_photos,
    checkin_alerts,
    checkin_triage,
    checkin_overdue,
    treatment_outcomes,
    treatment_outcome_areas,
    treatment_outcome_add_ons,
);
