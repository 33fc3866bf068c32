//! What every page's layout needs: who is signed in, the CSRF token for its
//! forms, and the flash message to show once.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::session::{self, Clinicians, FrontDesk, LocalFuture, Policy};
use super::{cookies, csrf, flash};
use crate::auth::Role;
use crate::error::AppError;
use crate::usecases::accounts::User;
use crate::usecases::reminders::Status;
use crate::usecases::trial;

pub struct PageCtx {
    pub user: Option<User>,
    pub csrf_token: String,
    pub flash: Option<flash::Flash>,
    /// Check-ins waiting for someone at the clinic (the navigation's count).
    pub attention: i64,
    /// How the clinic writes dates and times on this page.
    pub locale: crate::dates::Locale,
    /// What is not yet set up for real patients (the trial banner), for signed-in users.
    pub trial: Vec<String>,
    /// Whether mail is written to files: a "sent" email then reads "saved to file".
    pub mail_to_files: bool,
}

impl PageCtx {
    pub fn is_admin(&self) -> bool {
        self.has_role(&[Role::Admin])
    }
    pub fn can_record(&self) -> bool {
        self.has_role(Clinicians::ROLES)
    }
    pub fn is_front_desk(&self) -> bool {
        self.has_role(FrontDesk::ROLES)
    }
    /// An email's status as staff read it: one written to a file was not sent to anyone.
    pub fn shown(&self, status: &Status) -> &'static str {
        match status {
            Status::Sent if self.mail_to_files => "saved to file",
            other => other.as_str(),
        }
    }
    fn has_role(&self, roles: &[Role]) -> bool {
        self.user.as_ref().is_some_and(|u| roles.contains(&u.role))
    }
}

impl FromRequest for PageCtx {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = cookies::state(&req);
            let (session, layout) = session::session_and_layout(&req).await?;
            let csrf_token = csrf::token(&req, &state, session.as_ref());
            let flash = flash::read(&req, &state);
            if flash.is_some() {
                req.extensions_mut().insert(flash::FlashShown);
            }
            let trial = if session.is_some() {
                let gaps = trial::gaps(&state.settings);
                gaps.iter().map(trial::Gap::message).collect()
            } else {
                Vec::new()
            };
            Ok(PageCtx {
                attention: layout.attention,
                locale: layout.locale,
                trial,
                mail_to_files: trial::mail_to_files(&state.settings),
                user: session.map(|s| s.user),
                csrf_token,
                flash,
            })
        })
    }
}
