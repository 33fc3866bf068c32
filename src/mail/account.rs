//! The email that gives a person their one-time link to choose a password, when an admin adds
//! them or resets their password. It goes to their own address only; the link is a secret
//! (anyone holding it can set the password until it is used or expires).

use super::alert::html_escape;

pub struct PasswordLinkEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// `person_name` gets `url` to choose a password on `clinic_name`'s Aftercare, good until
/// `expires` (as the admin's page says it).
pub fn compose_password_link(
    clinic_name: &str,
    person_name: &str,
    url: &str,
    expires: &str,
) -> PasswordLinkEmail {
    let subject = format!("Choose your password for {clinic_name}'s Aftercare");
    let why = "A clinic admin has given you an account, or reset your password. Open this link to choose your password:";
    let after = format!(
        "It works once, until {expires}. If you did not expect this email, tell the clinic and do not open the link."
    );
    let text = format!(
        "Hello {person_name},\n\n{why}\n{url}\n\n{after}\n\n-- \nSent by Aftercare for {clinic_name}.\n"
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:Arial,Helvetica,sans-serif;color:#1d2428;\">\
         <p>Hello {person},</p><p>{why}</p>\
         <p><a href=\"{url}\" style=\"font-weight:bold;\">Choose your password</a></p>\
         <p>{after}</p>\
         <p style=\"font-size:12px;color:#5b666d;\">Sent by Aftercare for {clinic}.</p>\
         </body></html>",
        title = html_escape(&subject),
        person = html_escape(person_name),
        why = html_escape(why),
        url = html_escape(url),
        after = html_escape(&after),
        clinic = html_escape(clinic_name),
    );
    PasswordLinkEmail {
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_link_email_carries_the_link_and_escapes_names() {
        let email = super::compose_password_link(
            "Glow <Clinic>",
            "Pat & Co",
            "https://app.example/set-password/abc",
            "8 December 2026, 09:00 UTC",
        );
        assert!(email.text.contains("https://app.example/set-password/abc"));
        assert!(email.text.contains("until 8 December 2026, 09:00 UTC"));
        assert!(email.html.contains("Pat &amp; Co"));
        assert!(email.html.contains("Glow &lt;Clinic&gt;"));
    }
}
