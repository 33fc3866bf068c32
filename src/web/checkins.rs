//! The patient's check-in page (token-authorised, like the unsubscribe link)
//! and the clinic's side: "Needs attention", acknowledging, the photos.

use actix_multipart::Multipart;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;

use futures_util::StreamExt;
use serde::Deserialize;

use super::csrf::CsrfForm;
use super::flash::{redirect_with_flash, FlashKind};
use super::page::PageCtx;
use super::session::{Auth, SignedIn};
use super::sites::{site_filter, LocationQuery, SiteFilter};
use super::{client_ip, render, AppState};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::usecases::checkins::{
    self, Answer, AttentionItem, CheckinInput, CheckinPage, Submitted, Triage, MAX_PHOTO_BYTES,
};
use crate::usecases::photos;

/// A whole upload must arrive within this long (a 10 MB photo on a slow phone line).
const UPLOAD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);
/// Any text field of the form; the note's own limit is checked by the use case.
const MAX_TEXT_FIELD: usize = 16 * 1024;
/// Parts in one form: the answer, the key, the note, the photo and the boxes.
const MAX_PARTS: usize = 64;
/// An upload past the photo limit is read (and dropped) up to here, so the
/// patient's browser gets the page that says why instead of a broken connection.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The check-in form. Public, with [`DonePage`], so the consistency tests render the pages a
/// patient reads in-process (tests/api/consistency.rs).
#[derive(Template)]
#[template(path = "checkin/form.html")]
pub struct FormPage {
    page: CheckinPage,
    token: String,
    form_key: String,
    answer: Option<Answer>,
    ticked: Vec<String>,
    note: String,
    errors: FieldErrors,
    /// Shown at the top instead of the form (the hourly limit).
    stop: Option<&'static str>,
}

impl FormPage {
    /// The form as a patient first opens it: the answer from the email's link, nothing ticked.
    pub fn fresh(
        page: CheckinPage,
        token: String,
        form_key: String,
        answer: Option<Answer>,
    ) -> FormPage {
        FormPage {
            page,
            token,
            form_key,
            answer,
            ticked: vec![],
            note: String::new(),
            errors: FieldErrors::default(),
            stop: None,
        }
    }
    fn is_answer(&self, a: &Answer) -> bool {
        self.answer == Some(*a)
    }
    fn is_ticked(&self, id: &str) -> bool {
        self.ticked.iter().any(|t| t == id)
    }
}

/// The page after an answer: the triage's advice, what is normal today, when to get help.
#[derive(Template)]
#[template(path = "checkin/done.html")]
pub struct DonePage {
    pub page: CheckinPage,
    pub triage: Triage,
    /// The normal signs ticked, as the page confirms them "common on day N".
    pub normal_ticked: Vec<String>,
    pub token: String,
}

/// Patient pages stay out of search engines; the policy headers already
/// send no referrer, and the pages say so too.
fn patient_response(status: StatusCode, template: &impl Template) -> AppResult<HttpResponse> {
    let mut response = render(template)?;
    *response.status_mut() = status;
    response.headers_mut().insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex, nofollow"),
    );
    Ok(response)
}

fn treatment_of(state: &AppState, token: &str) -> AppResult<i64> {
    state.links.open_checkin(token).ok_or(AppError::NotFound)
}

#[derive(Deserialize)]
pub(super) struct AnswerQuery {
    answer: Option<String>,
}

/// The form, with the answer from the email's link chosen. A GET never
/// records anything: mail scanners follow links.
pub(super) async fn checkin_form(
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: web::Query<AnswerQuery>,
) -> AppResult<HttpResponse> {
    let token = token.into_inner();
    let id = treatment_of(&state, &token)?;
    let now = state.clock.now();
    let page = state.db(move |conn| checkins::page(conn, id, now)).await?;
    let answer = query.answer.as_deref().and_then(Answer::parse);
    patient_response(
        StatusCode::OK,
        &FormPage::fresh(
            page,
            token.clone(),
            state.links.checkin_form_key(&token),
            answer,
        ),
    )
}

/// The form as read from the multipart body.
#[derive(Default)]
struct Upload {
    form_key: String,
    input: CheckinInput,
    photo_too_large: bool,
}

/// The body as a stream that notes when it has ended.
fn noting_the_end(
    payload: web::Payload,
    ended: Arc<AtomicBool>,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> {
    payload.chain(futures_util::stream::poll_fn(move |_| {
        ended.store(true, Ordering::Release);
        Poll::Ready(None)
    }))
}

/// `next` of the multipart reader, or `None` when it stalls after the body
/// has ended: with no more bytes to come, a reader still waiting (a body cut
/// short of its closing boundary) would wait for ever, so the form is
/// malformed now rather than 408 at the deadline.
async fn next_unless_stalled<S: futures_util::Stream + Unpin>(
    stream: &mut S,
    ended: &AtomicBool,
) -> Option<Option<S::Item>> {
    std::future::poll_fn(|cx| match stream.poll_next_unpin(cx) {
        Poll::Ready(item) => Poll::Ready(Some(item)),
        Poll::Pending if ended.load(Ordering::Acquire) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    })
    .await
}

/// Reads the form with every part capped; a photo past the limit is
/// drained and flagged rather than kept.
async fn read_upload(mut parts: Multipart, ended: &AtomicBool) -> AppResult<Upload> {
    let malformed = || {
        AppError::BadRequest("The form could not be read. Reload the page and try again.".into())
    };
    let mut upload = Upload::default();
    let (mut count, mut total) = (0, 0usize);
    while let Some(part) = next_unless_stalled(&mut parts, ended)
        .await
        .ok_or_else(malformed)?
    {
        let mut part = part.map_err(|_| malformed())?;
        count += 1;
        if count > MAX_PARTS {
            return Err(malformed());
        }
        let name = part.name().unwrap_or_default().to_string();
        let is_photo = name == "photo";
        let limit = if is_photo {
            MAX_PHOTO_BYTES
        } else {
            MAX_TEXT_FIELD
        };
        let mut data = Vec::new();
        let mut over = false;
        while let Some(chunk) = next_unless_stalled(&mut part, ended)
            .await
            .ok_or_else(malformed)?
        {
            let chunk = chunk.map_err(|_| malformed())?;
            total += chunk.len();
            if total > DRAIN_LIMIT {
                return Err(AppError::BadRequest(
                    "The upload is far too large. Choose a photo under 10 MB.".into(),
                ));
            }
            if !over && data.len() + chunk.len() > limit {
                over = true;
                data = Vec::new();
            }
            if !over {
                data.extend_from_slice(&chunk);
            }
        }
        if over && !is_photo {
            return Err(AppError::BadRequest(
                "A field of the form is too long.".into(),
            ));
        }
        let text = || match String::from_utf8(data.clone()) {
            Err(_) => Err(AppError::BadRequest(
                "The form contains bytes that are not text.".into(),
            )),
            Ok(t) if super::has_nul(&t) => Err(AppError::BadRequest(super::NUL_MESSAGE.into())),
            Ok(t) => Ok(t),
        };
        match name.as_str() {
            "form_key" => upload.form_key = text()?,
            "answer" => upload.input.answer = text()?,
            "note" => upload.input.note = text()?,
            "item" => upload.input.items.push(text()?),
            "photo" if over => upload.photo_too_large = true,
            "photo" if !data.is_empty() => upload.input.photo = Some(data),
            _ => {}
        }
    }
    Ok(upload)
}

/// A POST from another site is refused: browsers say where a request came
/// from, and our own form is always same-origin (the app's public address,
/// or the host asked for when a proxy keeps it).
fn cross_site(req: &HttpRequest, base_url: &str) -> bool {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    let Some(origin) = header("origin").filter(|o| *o != "null") else {
        return false;
    };
    let ours = url::Url::parse(base_url).map(|u| u.origin().ascii_serialization());
    let host = origin.split_once("://").map(|(_, rest)| rest);
    ours.as_deref() != Ok(origin) && host != header("host")
}

/// Records the answer and shows what to do now.
pub(super) async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let token = token.into_inner();
    let id = treatment_of(&state, &token)?;
    if cross_site(&req, &state.settings.base_url) {
        return Err(AppError::Csrf);
    }
    let ended = Arc::new(AtomicBool::new(false));
    let parts = Multipart::new(req.headers(), noting_the_end(payload, ended.clone()));
    let mut upload = tokio::time::timeout(UPLOAD_DEADLINE, read_upload(parts, &ended))
        .await
        .map_err(|_| AppError::RequestTimeout)??;
    if !state.links.checkin_form_key_ok(&token, &upload.form_key) {
        return Err(AppError::Csrf);
    }
    let now = state.clock.now();
    let again = |page, errors: FieldErrors, input: CheckinInput, stop| FormPage {
        page,
        form_key: state.links.checkin_form_key(&token),
        token: token.clone(),
        answer: Answer::parse(&input.answer),
        ticked: input.items,
        note: input.note,
        errors,
        stop,
    };
    if upload.photo_too_large {
        let page = state.db(move |conn| checkins::page(conn, id, now)).await?;
        let mut errors = FieldErrors::default();
        errors.add(
            "photo",
            "The photo is larger than 10 MB, so nothing was sent. Choose a smaller photo, or send your answer without one.",
        );
        let form = again(page, errors, upload.input, None);
        return patient_response(StatusCode::PAYLOAD_TOO_LARGE, &form);
    }
    // The hourly limit first: a treatment at its limit costs no decoding.
    let result = match state
        .db(move |conn| checkins::too_many(conn, id, now))
        .await?
    {
        Some(too_many) => Ok(too_many),
        None => {
            // The photo is checked and cleaned with no connection held.
            let cleaned = match upload.input.photo.take() {
                Some(raw) => Some(photos::clean_gated(&state.photos, raw).await?),
                None => None,
            };
            let ip = client_ip(&req);
            let input = CheckinInput {
                answer: upload.input.answer.clone(),
                items: upload.input.items.clone(),
                note: upload.input.note.clone(),
                photo: None,
            };
            state
                .db(move |conn| checkins::submit(conn, id, input, cleaned, &ip, now))
                .await
        }
    };
    let (answer, items, note) = (upload.input.answer, upload.input.items, upload.input.note);
    let kept = CheckinInput {
        answer,
        items,
        note,
        photo: None,
    };
    match result {
        Ok(Submitted::Recorded {
            triage,
            page,
            normal_ticked,
        }) => patient_response(
            StatusCode::OK,
            &DonePage {
                page: *page,
                triage,
                normal_ticked,
                token,
            },
        ),
        Ok(Submitted::TooMany { page }) => {
            let stop = "You have already sent several answers in the last hour, so this one was not saved. \
                        If you need help now, call the clinic or the emergency number below.";
            let form = again(*page, FieldErrors::default(), kept, Some(stop));
            patient_response(StatusCode::TOO_MANY_REQUESTS, &form)
        }
        Err(AppError::Invalid(errors)) => {
            let page = state.db(move |conn| checkins::page(conn, id, now)).await?;
            let form = again(page, errors, kept, None);
            patient_response(StatusCode::UNPROCESSABLE_ENTITY, &form)
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "attention.html")]
struct AttentionPage {
    ctx: PageCtx,
    items: Vec<AttentionItem>,
    filter: SiteFilter,
}

/// Check-ins the clinic has not yet dealt with, newest first: at the user's locations, or
/// those `?location=` chooses.
pub(super) async fn attention(
    auth: Auth<SignedIn>,
    ctx: PageCtx,
    state: web::Data<AppState>,
    query: web::Query<LocationQuery>,
) -> AppResult<HttpResponse> {
    let filter = site_filter(&state, auth.user(), &query).await?;
    let sites = filter.sites.clone();
    let items = state
        .db(move |conn| checkins::needs_attention(conn, &sites))
        .await?;
    render(&AttentionPage { ctx, items, filter })
}

#[derive(Deserialize)]
pub(super) struct AckForm {
    #[serde(default)]
    note: String,
}

pub(super) async fn acknowledge(
    req: HttpRequest,
    auth: Auth<SignedIn>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: CsrfForm<AckForm>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let user = auth.user().clone();
    let actor = user.actor(&client_ip(&req));
    let now = state.now();
    let note = form.0.note;
    let result = state
        .db(move |conn| checkins::acknowledge(conn, &actor, &user, id, &note, now))
        .await;
    let (kind, message) = match result {
        Ok(()) => (
            FlashKind::Success,
            "Acknowledged. It is off the list and in the treatment's timeline.".to_string(),
        ),
        Err(AppError::Invalid(e)) => (FlashKind::Error, e.msg("note").to_string()),
        Err(e) => return Err(e),
    };
    Ok(redirect_with_flash(&state, "/attention", kind, &message))
}

/// A check-in's photo, for signed-in staff only, never cached.
pub(super) async fn photo(
    _auth: Auth<SignedIn>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (content_type, bytes) = state.db(move |conn| checkins::photo(conn, id)).await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}
