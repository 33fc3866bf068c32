//! The emails that tell the clinic a patient asked for help, or that a check-in still waits
//! for a reply. They carry no health details (email leaves the clinic's systems): only that
//! someone asked, and the link to the app where staff read the answer.

pub struct AlertEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The alert: a patient asked for help (an emergency or call-now answer).
pub fn compose(clinic_name: &str, attention_url: &str) -> AlertEmail {
    build(
        "A patient asked for help",
        "A patient answered “How is your skin today?” and asked for help.",
        (
            "Please open Needs attention in Aftercare now and call them:",
            "Open Needs attention in Aftercare",
            "and call them.",
        ),
        clinic_name,
        attention_url,
    )
}

/// The reminder: a check-in that waits for a reply has not been acknowledged within the
/// clinic's reply time (sent once).
pub fn compose_overdue(clinic_name: &str, attention_url: &str) -> AlertEmail {
    build(
        "A check-in is still waiting for a reply",
        "A patient's answer to “How is your skin today?” has waited longer than your reply time, and nobody has acknowledged it yet.",
        ("Please open Needs attention in Aftercare, read it and reply:", "Open Needs attention in Aftercare", "read it and reply."),
        clinic_name,
        attention_url,
    )
}

/// (the text's call to action, the link's words, what follows the link in HTML)
type Action<'a> = (&'a str, &'a str, &'a str);

fn build(
    subject: &str,
    what: &str,
    (action, link, after): Action,
    clinic_name: &str,
    attention_url: &str,
) -> AlertEmail {
    let text = format!(
        "{what}\n\n{action}\n{attention_url}\n\n\
         -- \nSent by Aftercare for {clinic_name}. Details are only in the app.\n"
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{subject}</title></head>\
         <body style=\"font-family:Arial,Helvetica,sans-serif;color:#1d2428;\">\
         <p>{what}</p>\
         <p><a href=\"{url}\" style=\"font-weight:bold;color:#a4282c;\">{link}</a> {after}</p>\
         <p style=\"font-size:12px;color:#5b666d;\">Sent by Aftercare for {name}. Details are only in the app.</p>\
         </body></html>",
        what = html_escape(what),
        url = html_escape(attention_url),
        name = html_escape(clinic_name),
    );
    AlertEmail {
        subject: subject.to_string(),
        text,
        html,
    }
}

pub(super) fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_alert_names_no_one_and_escapes_the_clinic() {
        let email = super::compose("Glow & <Co>", "https://c.example/attention");
        assert!(email.html.contains("Glow &amp; &lt;Co&gt;"));
        assert!(email.text.contains("https://c.example/attention"));
        assert_eq!(email.subject, "A patient asked for help");
        assert!(email
            .html
            .contains("<p>A patient answered “How is your skin today?” and asked for help.</p>"));
    }

    #[test]
    fn the_reminder_says_it_waits_and_names_no_one() {
        let email = super::compose_overdue("Glow", "https://c.example/attention");
        assert_eq!(email.subject, "A check-in is still waiting for a reply");
        assert!(email.text.contains("longer than your reply time"));
        assert!(email.text.contains("https://c.example/attention"));
        assert!(email.html.contains("read it and reply."));
    }
}
