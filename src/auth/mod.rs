//! Authentication primitives: password hashing, random tokens, signatures,
//! the lock-out rule and roles. No I/O here; `accounts` wires them to storage.

pub mod lockout;
pub mod password;
pub mod tokens;

use std::fmt;

/// What a signed-in person may do. Stored as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Practitioner,
    Staff,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Practitioner, Role::Staff];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Practitioner => "practitioner",
            Role::Staff => "staff",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Clinic admin",
            Role::Practitioner => "Practitioner",
            Role::Staff => "Front desk",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Passwords shorter than this are refused (OWASP ASVS 2.1.1).
pub const MIN_PASSWORD_LEN: usize = 12;

/// Checks a new password; the message is shown beside the field.
pub fn check_new_password(password: &str, confirm: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err("Use at least 12 characters.");
    }
    if password.len() > 1024 {
        return Err("Use at most 1024 characters.");
    }
    if password != confirm {
        return Err("The two passwords do not match.");
    }
    Ok(())
}

/// Lower-cases and trims an email address so look-ups are case-insensitive.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn short_or_mismatched_passwords_are_refused() {
        assert!(check_new_password("short", "short").is_err());
        assert!(check_new_password("long enough pass", "long enough pasS").is_err());
        assert!(check_new_password("long enough pass", "long enough pass").is_ok());
    }
}
