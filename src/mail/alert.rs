//! The email that tells the clinic a patient asked for help. It carries no
//! health details (email leaves the clinic's systems): only that someone
//! asked, and the link to the app where staff read the answer.

pub struct AlertEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn compose(clinic_name: &str, attention_url: &str) -> AlertEmail {
    let subject = "A patient asked for help".to_string();
    let text = format!(
        "A patient answered \"How is your skin today?\" and asked for help.\n\n\
         Please open Needs attention in Aftercare now and call them:\n{attention_url}\n\n\
         -- \nSent by Aftercare for {clinic_name}. Details are only in the app.\n"
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{subject}</title></head>\
         <body style=\"font-family:Arial,Helvetica,sans-serif;color:#1d2428;\">\
         <p>A patient answered “How is your skin today?” and asked for help.</p>\
         <p><a href=\"{url}\" style=\"font-weight:bold;color:#a4282c;\">Open Needs attention in Aftercare</a> and call them.</p>\
         <p style=\"font-size:12px;color:#5b666d;\">Sent by Aftercare for {name}. Details are only in the app.</p>\
         </body></html>",
        url = html_escape(attention_url),
        name = html_escape(clinic_name),
    );
    AlertEmail {
        subject,
        text,
        html,
    }
}

fn html_escape(text: &str) -> String {
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
    }
}
