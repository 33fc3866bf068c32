//! Every route in one table: its method, its path, its handler and who may use
//! it. The app's routing is built from this table ([`register`]), and so is the
//! permission test (`tests/api/routes.rs` walks [`table`]), so a route cannot
//! be served without being tested.
//!
//! Who may use a route is written in the table and enforced by the handler's
//! own `Auth<P>` extractor; the compiler holds the two together. Each
//! extractor says whom it lets through ([`Gate`]): `Auth<P>` the roles of `P`,
//! any other extractor [`Anyone`]. A handler's arguments together let through
//! whom their one `Auth<P>` does, or anyone without one, and [`Route::new`]
//! accepts a handler only when that is the table's entry. So a handler that
//! asks for `Auth<Admins>` listed `for SignedIn`, or a public entry whose
//! handler asks for a sign-in (or the reverse), does not compile.

use actix_web::http::Method;
use actix_web::{guard, web, FromRequest, Handler, HttpRequest, Responder};

use super::csrf::CsrfForm;
use super::page::PageCtx;
use super::session::{Admins, Auth, Clinicians, FrontDesk, Policy, SignedIn};
use super::{admin, assets, checkins, clinic, data_rights, login, outbox, pages, patients};
use super::{locations, outcomes, patient_link, system, treatments};
use crate::auth::Role;

/// No sign-in needed: a public page, or one a signed link opens.
pub struct Anyone;

/// Who may use a route, as the permission test reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Anyone,
    /// Signed-in users with one of these roles.
    Roles(&'static [Role]),
}

/// A policy as the table names it: [`Anyone`], or one of `session`'s.
pub trait Entry {
    const WHO: Who;
}

impl Entry for Anyone {
    const WHO: Who = Who::Anyone;
}

/// Whom an extractor lets through: `Who` is [`Anyone`] or a policy.
pub trait Gate {
    type Who: Entry;
}

/// Whom two extractors let through together: anyone-and-`P` is `P`. Two
/// policies in one handler have no impl, so they do not compile.
pub trait Join<Other> {
    type Out: Entry;
}

impl<W: Entry> Join<W> for Anyone {
    type Out = W;
}

impl<P: Policy + 'static> Gate for Auth<P>
where
    P: Entry,
{
    type Who = P;
}

macro_rules! policies {
    ($($policy:ident),*) => {$(
        impl Entry for $policy {
            const WHO: Who = Who::Roles(<$policy as Policy>::ROLES);
        }
        impl Join<Anyone> for $policy {
            type Out = $policy;
        }
    )*};
}
policies!(SignedIn, Admins, Clinicians, FrontDesk);

macro_rules! open_to_anyone {
    ($($extractor:ty $(, $param:ident)?);* $(;)?) => {$(
        impl$(<$param>)? Gate for $extractor {
            type Who = Anyone;
        }
    )*};
}
open_to_anyone!(
    HttpRequest;
    PageCtx;
    web::Payload;
    web::Data<T>, T;
    web::Path<T>, T;
    web::Query<T>, T;
    CsrfForm<T>, T;
);

impl Gate for () {
    type Who = Anyone;
}

/// A handler's arguments: the first one's gate joined with the rest's.
macro_rules! gate_tuple {
    ($head:ident $(, $tail:ident)*) => {
        impl<$head: Gate $(, $tail)*> Gate for ($head, $($tail,)*)
        where
            ($($tail,)*): Gate,
            <$head as Gate>::Who: Join<<($($tail,)*) as Gate>::Who>,
        {
            type Who = <<$head as Gate>::Who as Join<<($($tail,)*) as Gate>::Who>>::Out;
        }
        gate_tuple!($($tail),*);
    };
    () => {};
}
gate_tuple!(A, B, C, D, E, F, G, H);

/// One route: what the test reads, and how the app serves it.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub who: Who,
    serve: Box<dyn Fn(&mut web::ServiceConfig)>,
}

impl Route {
    /// The route `method path`, served by `handler`, for `W`: which must be
    /// whom `handler`'s extractors let through (see the top).
    fn new<W, F, Args>(method: Method, path: &'static str, handler: F) -> Route
    where
        W: Entry,
        F: Handler<Args> + Clone,
        Args: FromRequest + Gate<Who = W> + 'static,
        F::Output: Responder + 'static,
    {
        let guard_method = method.clone();
        Route {
            method,
            path,
            who: W::WHO,
            serve: Box::new(move |cfg| {
                cfg.service(
                    web::resource(path)
                        .guard(guard::Method(guard_method.clone()))
                        .to(handler.clone()),
                );
            }),
        }
    }
}

/// `METHOD "path" => handler, for Policy;`, one line a route, in the order
/// they are matched.
macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path, for $who:ident;)*) => {
        /// Every route the app serves, in the order they are matched.
        pub fn table() -> Vec<Route> {
            vec![$(Route::new::<$who, _, _>(Method::$method, $path, $handler)),*]
        }
    };
}

route_table! {
    GET "/" => pages::home, for SignedIn;
    GET "/healthz" => pages::healthz, for Anyone;
    GET "/static/{name}" => assets::asset, for Anyone;
    GET "/login" => login::login_form, for Anyone;
    POST "/login" => login::login_submit, for Anyone;
    POST "/logout" => login::logout, for SignedIn;
    GET "/setup/{token}" => login::setup_form, for Anyone;
    POST "/setup/{token}" => login::setup_submit, for Anyone;
    GET "/set-password/{token}" => login::set_password_form, for Anyone;
    POST "/set-password/{token}" => login::set_password_submit, for Anyone;
    GET "/account/password" => login::account_password_form, for SignedIn;
    POST "/account/password" => login::account_password_submit, for SignedIn;
    GET "/admin/users" => admin::users, for Admins;
    GET "/admin/users/new" => admin::new_user_form, for Admins;
    POST "/admin/users/new" => admin::new_user_submit, for Admins;
    GET "/admin/users/{id}" => admin::user_detail, for Admins;
    POST "/admin/users/{id}/role" => admin::user_role, for Admins;
    POST "/admin/users/{id}/locations" => admin::user_locations, for Admins;
    POST "/admin/users/{id}/{change:(deactivate|reactivate)}" => admin::user_active, for Admins;
    POST "/admin/users/{id}/password-link" => admin::user_password_link, for Admins;
    GET "/admin/audit" => admin::audit, for Admins;
    GET "/admin/system" => system::page, for Admins;
    GET "/admin/clinic" => clinic::clinic_form, for Admins;
    POST "/admin/clinic" => clinic::clinic_submit, for Admins;
    GET "/admin/locations" => locations::list, for Admins;
    GET "/admin/locations/new" => locations::new_form, for Admins;
    POST "/admin/locations" => locations::create, for Admins;
    GET "/admin/locations/{id}" => locations::edit_form, for Admins;
    POST "/admin/locations/{id}" => locations::save, for Admins;
    POST "/admin/locations/{id}/{change:(close|reopen|delete)}" => locations::change, for Admins;
    GET "/admin/retention" => clinic::retention_form, for Admins;
    POST "/admin/retention" => clinic::retention_submit, for Admins;
    GET "/patients" => patients::list, for SignedIn;
    GET "/patients/new" => patients::new_form, for SignedIn;
    POST "/patients/new" => patients::create, for SignedIn;
    GET "/patients/{id}" => patients::show, for SignedIn;
    GET "/patients/{id}/edit" => patients::edit_form, for SignedIn;
    POST "/patients/{id}/edit" => patients::update, for SignedIn;
    GET "/patients/{id}/export" => data_rights::export, for Admins;
    GET "/patients/{id}/erase" => data_rights::erase_form, for Admins;
    POST "/patients/{id}/erase" => data_rights::erase, for Admins;
    GET "/patients/{id}/treatments/new" => treatments::new_form, for Clinicians;
    POST "/treatments" => treatments::record, for Clinicians;
    GET "/treatments/{id}" => treatments::show, for SignedIn;
    GET "/treatments/{id}/edit" => treatments::edit_form, for Clinicians;
    POST "/treatments/{id}/edit" => treatments::edit, for Clinicians;
    GET "/treatments/{id}/delete" => treatments::delete_form, for Clinicians;
    POST "/treatments/{id}/delete" => treatments::delete, for Clinicians;
    GET "/treatments/{id}/sheet" => treatments::staff_sheet, for SignedIn;
    GET "/treatments/{id}/fhir.json" => treatments::fhir_download, for Clinicians;
    GET "/s/{token}" => patient_link::patient_sheet, for Anyone;
    GET "/s/{token}/{file}" => treatments::patient_calendar, for Anyone;
    POST "/treatments/{id}/send-sheet" => treatments::send_sheet, for SignedIn;
    GET "/outbox" => outbox::outbox, for FrontDesk;
    POST "/outbox/{id}/{action:(retry|cancel)}" => outbox::button, for FrontDesk;
    GET "/treatments/{id}/reminders/{reminder}/preview" => outbox::preview, for SignedIn;
    GET "/unsubscribe/{token}" => outbox::unsubscribe_form, for Anyone;
    POST "/unsubscribe/{token}" => outbox::unsubscribe, for Anyone;
    GET "/checkin/{token}" => checkins::checkin_form, for Anyone;
    POST "/checkin/{token}" => checkins::submit, for Anyone;
    GET "/attention" => checkins::attention, for SignedIn;
    POST "/attention/{id}/acknowledge" => checkins::acknowledge, for SignedIn;
    GET "/checkins/{id}/photo" => checkins::photo, for SignedIn;
    GET "/outcomes" => outcomes::page, for Clinicians;
    GET "/outcomes.csv" => outcomes::csv, for Clinicians;
}

/// Serves every route of [`table`].
pub fn register(cfg: &mut web::ServiceConfig) {
    for route in table() {
        (route.serve)(cfg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_route_is_listed_twice() {
        let routes = table();
        let mut seen = std::collections::BTreeSet::new();
        for r in &routes {
            assert!(
                seen.insert((r.method.to_string(), r.path)),
                "{} {}",
                r.method,
                r.path
            );
        }
        assert!(routes.len() > 50);
    }
}
