//! Static files, compiled into the binary so the app is one file to run.
//!
//! Each is served under a name with a fingerprint of its content
//! (`app.3f2a…c1.css`) and cached for a year: a new build with a changed file
//! has a new name, so no browser keeps an old copy. Templates ask [`url`] for
//! the name. The plain name still answers, briefly cached, for pages saved
//! before a release.

use std::sync::LazyLock;

use actix_web::{http::header, web, HttpResponse};
use sha2::{Digest, Sha256};

use crate::error::AppError;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/app.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../static/favicon.svg"),
    },
];

/// A year: fingerprinted names never change content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const PLAIN: &str = "public, max-age=3600";

/// Each asset's fingerprinted name, in the order of `ASSETS`.
static FINGERPRINTED: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = Sha256::digest(a.body);
            let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
            let (stem, ext) = a.name.rsplit_once('.').unwrap_or((a.name, ""));
            format!("{stem}.{hex}.{ext}")
        })
        .collect()
});

/// The address of a static file by its plain name, fingerprinted
/// (`/static/app.3f2a…c1.css`). An unknown name is a programming error; it
/// gives the plain path, which answers 404.
pub fn url(name: &str) -> String {
    match ASSETS.iter().position(|a| a.name == name) {
        Some(i) => format!("/static/{}", FINGERPRINTED[i]),
        None => format!("/static/{name}"),
    }
}

pub(super) async fn asset(name: web::Path<String>) -> Result<HttpResponse, AppError> {
    let name = name.as_str();
    let (asset, cache) = ASSETS
        .iter()
        .zip(FINGERPRINTED.iter())
        .find_map(|(a, f)| {
            if f == name {
                Some((a, IMMUTABLE))
            } else if a.name == name {
                Some((a, PLAIN))
            } else {
                None
            }
        })
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, cache))
        .body(asset.body))
}
