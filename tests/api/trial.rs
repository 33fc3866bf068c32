//! Trial mode: while emails go to files, or links point at this machine, every signed-in page
//! says so, the outbox says "saved to file" rather than "sent", and the System page lists what
//! is not yet set for real patients. A real set-up shows none of it.

use aftercare::usecases::reminders::Status;

use crate::helpers::*;

const BANNER: &str = "Trial set-up: not ready for patients yet.";

async fn the_default_set_up_is_a_trial_on_every_signed_in_page(app: TestApp) {
    app.configure_clinic("Glow Skin Clinic", "desk@glow.example")
        .await;
    let login = app.get_text("/login").await;
    assert!(!login.contains(BANNER), "the sign-in page shows the banner");

    let admin = app.signed_in("admin").await;
    let files = app.mail_dir.path().display().to_string();
    for path in ["/", "/patients", "/attention", "/outbox", "/admin/clinic"] {
        let page = app.get_text_with(&admin, path).await;
        assert!(page.contains(BANNER), "{path} has no trial banner");
        assert!(
            page.contains(&format!("Emails are saved as files in {files}, not sent")),
            "{path} does not say where the emails go"
        );
        assert!(
            page.contains("point to http://127.0.0.1:"),
            "{path} does not say the links point at this machine"
        );
    }
    let system = app.get_text_with(&admin, "/admin/system").await;
    assert!(system.contains("Not yet."), "{system}");
    assert!(system.contains("Set AFTERCARE_SMTP_URL"), "{system}");
    assert!(system.contains("Set AFTERCARE_BASE_URL"), "{system}");

    // An email the worker has "sent": the database says sent, staff read "saved to file".
    app.ada_treated_an_hour_ago(&[("send_now", "1")]).await;
    aftercare::startup::worker_for(&app.state)
        .unwrap()
        .run_once()
        .await
        .unwrap();
    let sent = scalar(&app, "SELECT COUNT(*) FROM reminders WHERE status = 'sent'").await;
    assert_eq!(sent, 1, "the worker wrote the email to a file");
    let staff = app.signed_in("staff").await;
    let outbox = app
        .get_text_with(&staff, &format!("/outbox?status={}", Status::Sent))
        .await;
    assert!(
        outbox.contains("status-sent\">saved to file</span>"),
        "the outbox does not say the email was saved to a file"
    );
    assert!(!outbox.contains("status-sent\">sent</span>"), "{outbox}");
}

async fn a_mail_server_and_a_public_address_end_the_trial(app: TestApp) {
    app.configure_clinic("Glow Skin Clinic", "desk@glow.example")
        .await;
    let admin = app.signed_in("admin").await;
    for path in ["/", "/patients", "/outbox", "/admin/system"] {
        let page = app.get_text_with(&admin, path).await;
        assert!(!page.contains(BANNER), "{path} still shows the banner");
    }
    let system = app.get_text_with(&admin, "/admin/system").await;
    assert!(
        system.contains("Yes: emails go through the clinic's mail server"),
        "{system}"
    );
}

crate::on_both_databases!(the_default_set_up_is_a_trial_on_every_signed_in_page);

mod real {
    use super::*;

    crate::on_both_databases!(
        settings &[
            ("AFTERCARE_SMTP_URL", "smtp://127.0.0.1:2525"),
            ("AFTERCARE_BASE_URL", "http://aftercare.glow.example"),
            ("AFTERCARE_BACKUP_DIR", env!("CARGO_TARGET_TMPDIR")),
        ];
        a_mail_server_and_a_public_address_end_the_trial
    );
}
