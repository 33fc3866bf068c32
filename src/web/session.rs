//! Who is asking: the session cookie and the role policies each route
//! names in its signature.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::cookies::{self, AppCookie};
use crate::auth::Role;
use crate::error::AppError;
use crate::usecases::accounts::{self, ActiveSession, User};
use crate::usecases::layout::{layout, Layout};

pub(super) type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

/// The request's session, looked up once and cached in the request, with
/// the navigation's count of check-ins waiting when a page needs it.
#[derive(Clone)]
struct SessionCache(Option<(ActiveSession, Option<Layout>)>);

/// The request's session. A page (GET) also reads the navigation's count in
/// the same trip to the database, so it makes one trip for both, not two; a
/// form's POST, which mostly redirects, reads no count.
pub async fn current_session(req: &HttpRequest) -> Result<Option<ActiveSession>, AppError> {
    let page = matches!(*req.method(), Method::GET | Method::HEAD);
    Ok(signed_in(req, page).await?.map(|(session, _)| session))
}

/// The session and what the page's layout reads: the number of check-ins needing attention
/// and the clinic's locale (nothing waiting, and the default, without a session).
pub async fn session_and_layout(
    req: &HttpRequest,
) -> Result<(Option<ActiveSession>, Layout), AppError> {
    let none = Layout {
        attention: 0,
        locale: Default::default(),
    };
    Ok(match signed_in(req, true).await? {
        Some((session, layout)) => (Some(session), layout.unwrap_or(none)),
        None => (None, none),
    })
}

async fn signed_in(
    req: &HttpRequest,
    with_attention: bool,
) -> Result<Option<(ActiveSession, Option<Layout>)>, AppError> {
    let cached = req.extensions().get::<SessionCache>().cloned();
    let state = cookies::state(req);
    let session = match cached {
        // A form shown again (422) needs the count its POST did not read.
        Some(SessionCache(Some((session, None)))) if with_attention => {
            let user = session.user.clone();
            let layout = state.db(move |conn| layout(conn, &user)).await?;
            Some((session, Some(layout)))
        }
        Some(SessionCache(cached)) => return Ok(cached),
        None => match cookies::get(req, &state, AppCookie::Session) {
            None => None,
            Some(token) => {
                let now = state.now();
                let idle =
                    chrono::Duration::from_std(state.settings.session_idle).unwrap_or_default();
                let max_age =
                    chrono::Duration::from_std(state.settings.session_max_age).unwrap_or_default();
                state
                    .db(move |conn| {
                        let Some(session) =
                            accounts::resume_session(conn, &token, idle, max_age, now)?
                        else {
                            return Ok(None);
                        };
                        let layout = match with_attention {
                            true => Some(layout(conn, &session.user)?),
                            false => None,
                        };
                        Ok(Some((session, layout)))
                    })
                    .await?
            }
        },
    };
    req.extensions_mut().insert(SessionCache(session.clone()));
    Ok(session)
}

/// Who may use a route. Each handler names its policy in its signature, so
/// the route table and the access rules are read in one place.
pub trait Policy {
    const ROLES: &'static [Role];
}

/// Any signed-in user.
pub struct SignedIn;
impl Policy for SignedIn {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Practitioner, Role::Staff];
}

/// Clinic admins only: users, clinic settings, the protocol, the audit log.
pub struct Admins;
impl Policy for Admins {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// Those who record treatments: practitioners and admins.
pub struct Clinicians;
impl Policy for Clinicians {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Practitioner];
}

/// The front desk's tools (the outbox): staff and admins.
pub struct FrontDesk;
impl Policy for FrontDesk {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Staff];
}

/// A signed-in user whose role the policy `P` allows. Anonymous requests are
/// sent to the log-in page; other roles get 403.
pub struct Auth<P: Policy> {
    pub session: ActiveSession,
    _policy: PhantomData<P>,
}

impl<P: Policy> Auth<P> {
    pub fn user(&self) -> &User {
        &self.session.user
    }
}

impl<P: Policy + 'static> FromRequest for Auth<P> {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match current_session(&req).await? {
                None => {
                    // After log-in, return to the page asked for; a POST has no page to return to.
                    let next = if req.method() == actix_web::http::Method::GET {
                        req.uri()
                            .path_and_query()
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_else(|| "/".into())
                    } else {
                        "/".into()
                    };
                    Err(AppError::LoginRequired { next })
                }
                Some(session) if P::ROLES.contains(&session.user.role) => Ok(Auth {
                    session,
                    _policy: PhantomData,
                }),
                Some(_) => Err(AppError::Forbidden),
            }
        })
    }
}
