//! The audit log: who did what, when and from where. Every use case that
//! changes something writes its row in its own transaction with [`audit`];
//! rows that stand alone (a sheet was opened) go through the audit writer (`audit_writer`).

use chrono::NaiveDateTime;

use crate::error::AppResult;
use crate::store::{self, audit::NewAudit, DbConn};

/// Who did something, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<i64>,
    pub label: String,
    pub ip: String,
}

impl Actor {
    pub fn anonymous(label: &str, ip: &str) -> Actor {
        Actor {
            id: None,
            label: label.to_string(),
            ip: ip.to_string(),
        }
    }
}

impl Actor {
    /// The audit-log row for something this actor did.
    pub fn audit_row<'a>(
        &'a self,
        action: &'a str,
        subject: &'a str,
        detail: &'a str,
        at: NaiveDateTime,
    ) -> NewAudit<'a> {
        NewAudit {
            at,
            actor_id: self.id,
            actor: &self.label,
            action,
            subject,
            detail,
            ip: &self.ip,
        }
    }
}

pub fn audit(
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    subject: &str,
    detail: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    store::audit::insert(conn, &actor.audit_row(action, subject, detail, now))?;
    Ok(())
}

pub struct AuditPage {
    pub rows: Vec<store::audit::AuditRow>,
    pub page: i64,
    pub pages: i64,
}

pub const AUDIT_PAGE_SIZE: i64 = 50;

pub fn audit_page(conn: &mut DbConn, page: i64) -> AppResult<AuditPage> {
    let total = store::audit::count(conn)?;
    let pages = ((total + AUDIT_PAGE_SIZE - 1) / AUDIT_PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let rows = store::audit::page(conn, (page - 1) * AUDIT_PAGE_SIZE, AUDIT_PAGE_SIZE)?;
    Ok(AuditPage { rows, page, pages })
}

pub use crate::store::audit::AuditRow as Entry;

/// The entries about any of `subjects` ("patient 7", "treatment 12" …), oldest first.
pub fn about(conn: &mut DbConn, subjects: &[String]) -> AppResult<Vec<Entry>> {
    Ok(store::audit::about(conn, subjects)?)
}

/// Rewrites the entries about `subjects`: `scrub` gets each entry and answers its (detail,
/// address) as they should be. Returns how many changed.
pub fn scrub_about(
    conn: &mut DbConn,
    subjects: &[String],
    scrub: impl Fn(&Entry) -> (String, String),
) -> AppResult<usize> {
    let mut changed = 0;
    for entry in store::audit::about(conn, subjects)? {
        let (detail, ip) = scrub(&entry);
        if detail != entry.detail || ip != entry.ip {
            changed += store::audit::rewrite(conn, entry.id, &detail, &ip)?;
        }
    }
    Ok(changed)
}

/// Deletes up to `limit` of the oldest entries written before `before` (the retention setting).
pub fn prune(conn: &mut DbConn, before: NaiveDateTime, limit: i64) -> AppResult<usize> {
    Ok(store::audit::delete_before(conn, before, limit)?)
}
