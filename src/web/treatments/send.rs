//! "Send the sheet now": the patient's link emailed at once, through the outbox, and the
//! flash that says where it went or why it did not.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{AppError, AppResult};
use crate::usecases::treatments;
use crate::web::csrf::CsrfForm;
use crate::web::flash::{redirect_with_flash, FlashKind};
use crate::web::session::{Auth, SignedIn};
use crate::web::{client_ip, AppState};

#[derive(serde::Deserialize)]
pub(in crate::web) struct SendForm {
    /// The click's nonce, from the treatment page.
    click: String,
}

/// "Send the sheet now": emails the patient their link at once, through the
/// outbox (the worker sends it within seconds).
pub(in crate::web) async fn send_sheet(
    req: HttpRequest,
    auth: Auth<SignedIn>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: CsrfForm<SendForm>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (actor, click, at) = (
        auth.user().actor(&client_ip(&req)),
        form.0.click,
        state.timing(),
    );
    let result = state
        .db(move |conn| treatments::send_sheet_now(conn, &actor, id, &click, at))
        .await;
    let (kind, message) = sent_message(result)?;
    Ok(redirect_with_flash(
        &state,
        &format!("/treatments/{id}"),
        kind,
        &message,
    ))
}

/// The flash after "send the sheet now": where it goes, or why it does not.
pub(super) fn sent_message(result: AppResult<Option<String>>) -> AppResult<(FlashKind, String)> {
    match result {
        Ok(Some(to)) => Ok((
            FlashKind::Success,
            format!("The sheet's link is on its way to {to}. It shows in the outbox."),
        )),
        Ok(None) => Ok((
            FlashKind::Success,
            "That email was already queued.".to_string(),
        )),
        Err(AppError::Invalid(errors)) => {
            Ok((FlashKind::Error, errors.msg("send_now").to_string()))
        }
        Err(e) => Err(e),
    }
}
