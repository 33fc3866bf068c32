//! "Download as FHIR": a treatment's record as a FHIR R4 bundle, for clinicians. Never cached:
//! it holds the patient's health data.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::documents::fhir::CONTENT_TYPE;
use crate::error::AppResult;
use crate::usecases::fhir;
use crate::web::session::{Auth, Clinicians};
use crate::web::{client_ip, AppState};

pub(in crate::web) async fn download(
    req: HttpRequest,
    auth: Auth<Clinicians>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (id, now) = (id.into_inner(), state.now());
    let actor = auth.user().actor(&client_ip(&req));
    let download = state
        .db(move |conn| fhir::download(conn, &actor, id, now))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", download.filename),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(download.json))
}
