//! Links that patients follow without an account: signed, never guessable.

use crate::auth::tokens::{Keys, Purpose};

#[derive(Clone, Debug)]
pub struct Links {
    pub base_url: String,
    pub keys: Keys,
}

impl Links {
    pub fn sheet(&self, treatment_id: i64) -> String {
        let token = self
            .keys
            .seal(Purpose::PatientSheet, &format!("t{treatment_id}"));
        format!("{}/s/{token}", self.base_url)
    }

    pub fn unsubscribe(&self, patient_id: i64) -> String {
        let token = self
            .keys
            .seal(Purpose::Unsubscribe, &format!("p{patient_id}"));
        format!("{}/unsubscribe/{token}", self.base_url)
    }

    /// The patient's "How is your skin today?" page for a treatment.
    pub fn checkin(&self, treatment_id: i64) -> String {
        let token = self
            .keys
            .seal(Purpose::Checkin, &format!("t{treatment_id}"));
        format!("{}/checkin/{token}", self.base_url)
    }

    /// The treatment a check-in token names, if the token is ours.
    pub fn open_checkin(&self, token: &str) -> Option<i64> {
        Self::open(&self.keys, Purpose::Checkin, 't', token)
    }

    /// The check-in form's hidden field: signed over the token, so a POST
    /// without a form we served (a forged cross-site one, a bot) is refused.
    pub fn checkin_form_key(&self, token: &str) -> String {
        self.keys.sign(Purpose::CheckinForm, token)
    }

    pub fn checkin_form_key_ok(&self, token: &str, key: &str) -> bool {
        self.keys.verify(Purpose::CheckinForm, token, key)
    }

    /// The treatment a sheet token names, if the token is ours.
    pub fn open_sheet(&self, token: &str) -> Option<i64> {
        Self::open(&self.keys, Purpose::PatientSheet, 't', token)
    }

    /// The patient an unsubscribe token names, if the token is ours.
    pub fn open_unsubscribe(&self, token: &str) -> Option<i64> {
        Self::open(&self.keys, Purpose::Unsubscribe, 'p', token)
    }

    fn open(keys: &Keys, purpose: Purpose, prefix: char, token: &str) -> Option<i64> {
        keys.open(purpose, token)?
            .strip_prefix(prefix)?
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_purpose() {
        let links = Links {
            base_url: "https://c".into(),
            keys: Keys::new(b"k0123456789abcdef0123456789abcdef"),
        };
        let sheet = links.sheet(42);
        let token = sheet.rsplit('/').next().unwrap();
        assert_eq!(links.open_sheet(token), Some(42));
        assert_eq!(links.open_unsubscribe(token), None);
        assert_eq!(links.open_checkin(token), None);
        let checkin = links.checkin(42);
        let token = checkin.rsplit('/').next().unwrap();
        assert_eq!(links.open_checkin(token), Some(42));
        assert_eq!(links.open_sheet(token), None);
        let key = links.checkin_form_key(token);
        assert!(links.checkin_form_key_ok(token, &key));
        assert!(!links.checkin_form_key_ok(&links.sheet(42), &key));
        let unsub = links.unsubscribe(7);
        assert_eq!(
            links.open_unsubscribe(unsub.rsplit('/').next().unwrap()),
            Some(7)
        );
    }
}
