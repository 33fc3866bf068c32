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
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(password_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    app_settings,
    users,
    sessions,
    login_attempts,
    password_tokens,
    audit_log,
);
