use super::*;

#[test]
fn the_typed_name_may_differ_in_case_and_spacing_only() {
    assert!(same_name(" ana  LIMA ", "Ana Lima"));
    assert!(!same_name("Ana", "Ana Lima"));
    assert!(!same_name("", ""));
}

#[test]
fn redaction_finds_each_identifier_whatever_its_ascii_case() {
    let identity = ["Ana Lima".to_string(), "ana@example.com".to_string()];
    assert_eq!(
        redact(
            "550 <ANA@example.com>: no such user (Ana Lima; ana lima)",
            &identity
        ),
        "550 <[erased]>: no such user ([erased]; [erased])"
    );
    assert_eq!(redact("Zoë Ünal", &["zoë".to_string()]), "[erased] Ünal");
}

fn entry(action: &str, actor_id: Option<i64>, actor: &str, detail: &str) -> audit::Entry {
    audit::Entry {
        id: 1,
        at: NaiveDateTime::default(),
        actor_id,
        actor: actor.into(),
        action: action.into(),
        subject: "patient 7".into(),
        detail: detail.into(),
        ip: "192.0.2.1".into(),
        times: 1,
    }
}

#[test]
fn audit_entries_keep_who_did_what_without_the_patient() {
    let identity = ["Ana Lima".to_string()];
    let renamed = entry(
        "patient.updated",
        Some(1),
        "ad@c.example",
        "Ana Lyma; email consent given",
    );
    assert_eq!(
        scrubbed(&renamed, &identity),
        ("[erased]; email consent given".into(), "192.0.2.1".into())
    );
    let ack = entry(
        "checkin.acknowledged",
        Some(1),
        "ad@c.example",
        "check-in 3: called Ana",
    );
    assert_eq!(scrubbed(&ack, &identity).0, "check-in 3: [erased]");
    let opened = entry("sheet.opened_by_patient", None, "patient (sheet link)", "");
    assert_eq!(scrubbed(&opened, &identity), (String::new(), String::new()));
}
