//! How long the clinic keeps its records.

use chrono::NaiveDateTime;

use crate::error::{AppResult, FieldErrors};
use crate::usecases::audit::{audit, Actor};
use crate::usecases::store::{self, clinic::RetentionRow, write_tx, DbConn};
use crate::words::counted;

/// How long records are kept, in days; `None` keeps them for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The audit log, by the age of each entry.
    pub audit_retention_days: Option<i32>,
    /// Finished reminder emails, counted from their plan's last one.
    pub email_retention_days: Option<i32>,
    /// Check-in photos, by when the patient sent them.
    pub photo_retention_days: i32,
}

impl From<RetentionRow> for Retention {
    fn from(row: RetentionRow) -> Retention {
        Retention {
            audit_retention_days: row.audit_retention_days,
            email_retention_days: row.email_retention_days,
            photo_retention_days: row.photo_retention_days,
        }
    }
}

impl From<Retention> for RetentionRow {
    fn from(kept: Retention) -> RetentionRow {
        RetentionRow {
            audit_retention_days: kept.audit_retention_days,
            email_retention_days: kept.email_retention_days,
            photo_retention_days: kept.photo_retention_days,
        }
    }
}

/// The limits of each retention setting, in days.
pub const AUDIT_DAYS: std::ops::RangeInclusive<i32> = 365..=36_500;
pub const EMAIL_DAYS: std::ops::RangeInclusive<i32> = 30..=36_500;
pub const PHOTO_DAYS: std::ops::RangeInclusive<i32> = 1..=3_650;

/// The retention form as typed. Empty keeps the audit log or email records for ever.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RetentionInput {
    #[serde(default)]
    pub audit_retention_days: String,
    #[serde(default)]
    pub email_retention_days: String,
    #[serde(default)]
    pub photo_retention_days: String,
}

impl From<&Retention> for RetentionInput {
    fn from(r: &Retention) -> Self {
        let days = |d: Option<i32>| d.map(|d| d.to_string()).unwrap_or_default();
        RetentionInput {
            audit_retention_days: days(r.audit_retention_days),
            email_retention_days: days(r.email_retention_days),
            photo_retention_days: r.photo_retention_days.to_string(),
        }
    }
}

/// A number of days within `range`, or `None` for an empty field when `forever` allows it.
fn days_field(
    errors: &mut FieldErrors,
    field: &str,
    text: &str,
    range: std::ops::RangeInclusive<i32>,
    forever: bool,
) -> Option<i32> {
    let text = text.trim();
    if text.is_empty() && forever {
        return None;
    }
    match text.parse::<i32>() {
        Ok(days) if range.contains(&days) => Some(days),
        _ => {
            let keep = if forever {
                ", or leave it empty to keep them for ever"
            } else {
                ""
            };
            errors.add(
                field,
                format!(
                    "Enter a whole number of days from {} to {}{keep}.",
                    range.start(),
                    range.end()
                ),
            );
            None
        }
    }
}

fn validate_retention(input: &RetentionInput) -> AppResult<Retention> {
    let mut errors = FieldErrors::default();
    let audit = days_field(
        &mut errors,
        "audit_retention_days",
        &input.audit_retention_days,
        AUDIT_DAYS,
        true,
    );
    let email = days_field(
        &mut errors,
        "email_retention_days",
        &input.email_retention_days,
        EMAIL_DAYS,
        true,
    );
    let photos = days_field(
        &mut errors,
        "photo_retention_days",
        &input.photo_retention_days,
        PHOTO_DAYS,
        false,
    );
    errors.into_result()?;
    Ok(Retention {
        audit_retention_days: audit,
        email_retention_days: email,
        photo_retention_days: photos.expect("validated"),
    })
}

/// How long the audit log, email records and check-in photos are kept.
pub fn retention(conn: &mut DbConn) -> AppResult<Retention> {
    Ok(store::clinic::retention(conn)?.into())
}

#[tracing::instrument(skip_all)]
pub fn save_retention(
    conn: &mut DbConn,
    actor: &Actor,
    input: &RetentionInput,
    now: NaiveDateTime,
) -> AppResult<()> {
    let row = validate_retention(input)?;
    let days = |d: Option<i32>| d.map_or("for ever".to_string(), |d| counted(d, "day"));
    write_tx(conn, |conn| {
        store::clinic::save_retention(conn, &row.into(), now)?;
        audit(
            conn,
            actor,
            "retention.updated",
            "retention",
            &format!(
                "audit log {}, email records {}, photos {}",
                days(row.audit_retention_days),
                days(row.email_retention_days),
                days(Some(row.photo_retention_days))
            ),
            now,
        )
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_a_number_of_days_in_range_or_for_ever_where_allowed() {
        let typed = |audit: &str, email: &str, photos: &str| RetentionInput {
            audit_retention_days: audit.into(),
            email_retention_days: email.into(),
            photo_retention_days: photos.into(),
        };
        let kept = validate_retention(&typed(" 2190 ", "", "90")).unwrap();
        assert_eq!(
            (
                kept.audit_retention_days,
                kept.email_retention_days,
                kept.photo_retention_days
            ),
            (Some(2190), None, 90)
        );
        let Err(crate::error::AppError::Invalid(errors)) =
            validate_retention(&typed("30", "ten", ""))
        else {
            panic!("expected field errors")
        };
        assert!(errors
            .msg("audit_retention_days")
            .contains("from 365 to 36500"));
        assert!(errors.msg("email_retention_days").contains("for ever"));
        assert!(errors
            .msg("photo_retention_days")
            .contains("from 1 to 3650"));
        assert!(!errors.msg("photo_retention_days").contains("for ever"));
    }
}
