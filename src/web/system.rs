//! The admin's System page: version, database, backups, the worker, the
//! outbox, the protocol and the settings in force.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::page::PageCtx;
use super::session::{Admins, Auth};
use super::{render, AppState};
use crate::error::AppResult;
use crate::usecases::system::{self, Backups, Overview};

#[derive(Template)]
#[template(path = "admin/system.html")]
struct SystemPage {
    ctx: PageCtx,
    system: Overview,
}

pub(super) async fn page(
    _auth: Auth<Admins>,
    ctx: PageCtx,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let settings = state.settings.clone();
    let (protocol_version, now, in_process) = (
        state.protocol.version(),
        state.now(),
        state.worker_in_process,
    );
    let system = state
        .db(move |conn| system::overview(conn, &settings, protocol_version, now, in_process))
        .await?;
    render(&SystemPage { ctx, system })
}
