use super::redact;

#[test]
fn redact_hides_only_the_password() {
    assert_eq!(
        redact("postgres://app:s3cret@db:5432/aftercare"),
        "postgres://app:***@db:5432/aftercare"
    );
    assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
    assert_eq!(redact("sqlite://aftercare.db"), "sqlite://aftercare.db");
}
