//! Rendered sheets, kept in memory while what they were made from holds.
//!
//! A sheet is a pure function of its treatment, its patient and the clinic
//! settings; each has a version counter raised by every change
//! ([`SheetVersion`]). An entry is reused only while all three versions match
//! the database's, so an edit on another instance is seen at the next view.
//! The cache is bounded (least recently used goes first).
//!
//! The patient's link also keeps the versions it read, for
//! [`VERSIONS_FRESH_FOR`]: within that, a view asks the database nothing.
//!
//! Not `moka`: its tree (crossbeam's channel, epoch and utils, parking_lot,
//! tagptr, …) is more code than this whole module needs, which is a map of at
//! most a thousand pages looked up under a lock held for a hash look-up.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use sha2::{Digest, Sha256};

use crate::usecases::treatments::SheetVersion;

/// Which rendering of a treatment's sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The patient's whole page (it has nothing per request).
    Patient,
    /// The sheet's body, which the staff page wraps in its layout.
    StaffBody,
}

/// A rendering with its strong ETag (a digest of its bytes, so equal content
/// has equal tags on every instance and any change of content changes it).
pub struct Rendered {
    pub etag: String,
    pub html: Bytes,
    /// Whom the sheet is for (the staff page's title).
    pub patient_name: String,
    /// The page compressed, made at its first request in each encoding and
    /// kept with it: compressing on every request cost the patient link ten
    /// times its speed (BENCHMARKS.md).
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
}

/// How a response body is encoded, as the client accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// The best encoding an `Accept-Encoding` header allows (brotli, then
    /// gzip); one refused with `q=0` is never chosen.
    pub fn chosen(accept_encoding: Option<&str>) -> Encoding {
        let accepts = |name: &str| {
            accept_encoding.unwrap_or("").split(',').any(|item| {
                let mut parts = item.split(';');
                let token = parts.next().unwrap_or("").trim();
                let refused = parts.any(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                token.eq_ignore_ascii_case(name) && !refused
            })
        };
        if accepts("br") {
            Encoding::Brotli
        } else if accepts("gzip") {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }

    /// The `Content-Encoding` value; `None` for identity.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }
}

impl Rendered {
    pub fn new(html: String, patient_name: String) -> Rendered {
        Rendered {
            etag: etag_of(html.as_bytes()),
            html: Bytes::from(html),
            patient_name,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    /// The page's bytes in `encoding`, with the ETag of that representation
    /// (each encoding is its own representation, so its own strong tag).
    pub fn encoded(&self, encoding: Encoding) -> (Bytes, String) {
        let tagged = |suffix: &str| format!("{}-{suffix}\"", self.etag.trim_end_matches('"'));
        match encoding {
            Encoding::Identity => (self.html.clone(), self.etag.clone()),
            Encoding::Gzip => (
                self.gzip.get_or_init(|| gzip(&self.html)).clone(),
                tagged("gz"),
            ),
            Encoding::Brotli => (
                self.brotli.get_or_init(|| brotli(&self.html)).clone(),
                tagged("br"),
            ),
        }
    }
}

fn gzip(bytes: &[u8]) -> Bytes {
    let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    out.write_all(bytes).expect("writing to memory");
    Bytes::from(out.finish().expect("writing to memory"))
}

fn brotli(bytes: &[u8]) -> Bytes {
    let mut out = Vec::new();
    {
        // Quality 9 of 11: nearly the smallest, at a fraction of 11's time.
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
        writer.write_all(bytes).expect("writing to memory");
    }
    Bytes::from(out)
}

/// A strong ETag for these bytes: 128 bits of their SHA-256.
pub fn etag_of(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// How long the versions read for a patient's link are trusted without asking
/// the database again. A change made through this process is seen at the next
/// view whatever this says (`usecases::sheet_inputs`). One made elsewhere (by
/// another instance on the same PostgreSQL database, or by the command line)
/// shows on the patient's link at most this long after it is committed; so
/// does a deletion or an erasure, after which the link answers 404. It costs
/// one small read a second per sheet being viewed.
pub const VERSIONS_FRESH_FOR: Duration = Duration::from_secs(1);

/// When a sheet's versions were read: by the monotonic clock, and at which
/// count of this process's changes (`usecases::sheet_inputs::changes`).
#[derive(Debug, Clone, Copy)]
pub struct VersionRead {
    pub at: Instant,
    pub changes: u64,
}

impl VersionRead {
    /// Whether versions read at `self` still hold at `now`.
    fn holds_at(&self, now: VersionRead) -> bool {
        self.changes == now.changes
            && now.at.saturating_duration_since(self.at) < VERSIONS_FRESH_FOR
    }
}

struct Entry {
    version: SheetVersion,
    page: Arc<Rendered>,
    used: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(i64, Kind), Entry>,
    tick: u64,
}

pub struct SheetCache {
    inner: Mutex<Inner>,
    /// The versions last read for each treatment's patient link.
    versions: Mutex<HashMap<i64, (SheetVersion, VersionRead)>>,
    capacity: usize,
}

impl SheetCache {
    pub fn new(capacity: usize) -> SheetCache {
        SheetCache {
            inner: Mutex::new(Inner::default()),
            versions: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The versions of treatment `id` read for its patient link, if they still
    /// hold `now`: read less than [`VERSIONS_FRESH_FOR`] ago, with no change
    /// through this process since.
    pub fn recent_version(&self, id: i64, now: VersionRead) -> Option<SheetVersion> {
        let versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        let (version, read) = versions.get(&id)?;
        read.holds_at(now).then_some(*version)
    }

    /// Keeps the versions of treatment `id` as read at `read`, unless a later
    /// read is kept. When full, what no longer holds goes; if that is not
    /// enough, everything does (it is one read each to get back).
    pub fn remember_version(&self, id: i64, version: SheetVersion, read: VersionRead) {
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        if versions.len() >= self.capacity && !versions.contains_key(&id) {
            versions.retain(|_, (_, kept)| kept.holds_at(read));
            if versions.len() >= self.capacity {
                versions.clear();
            }
        }
        let later_kept = versions
            .get(&id)
            .is_some_and(|(_, kept)| kept.changes == read.changes && kept.at > read.at);
        if !later_kept {
            versions.insert(id, (version, read));
        }
    }

    /// The rendering of treatment `id` at `version`, if one is kept.
    pub fn get(&self, id: i64, kind: Kind, version: SheetVersion) -> Option<Arc<Rendered>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.entries.get_mut(&(id, kind))?;
        if entry.version != version {
            return None;
        }
        entry.used = tick;
        Some(entry.page.clone())
    }

    /// Keeps a rendering, replacing any older one of the same treatment, and
    /// drops the least recently used entry when full. Only misses scan.
    pub fn put(&self, id: i64, kind: Kind, version: SheetVersion, page: Rendered) -> Arc<Rendered> {
        let page = Arc::new(page);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.tick += 1;
        let used = inner.tick;
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(&(id, kind)) {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| *k);
            if let Some(key) = oldest {
                inner.entries.remove(&key);
            }
        }
        let entry = Entry {
            version,
            page: page.clone(),
            used,
        };
        inner.entries.insert((id, kind), entry);
        page
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether an `If-None-Match` header names this ETag (or is `*`). Strong
/// comparison; a weak tag (`W/"…"`) never matches a strong one.
pub fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_accepted_encoding_is_chosen() {
        assert_eq!(
            Encoding::chosen(Some("gzip, deflate, br")),
            Encoding::Brotli
        );
        assert_eq!(Encoding::chosen(Some("gzip;q=1.0, br;q=0")), Encoding::Gzip);
        assert_eq!(Encoding::chosen(Some("identity")), Encoding::Identity);
        assert_eq!(Encoding::chosen(None), Encoding::Identity);
    }

    #[test]
    fn each_encoding_is_its_own_representation_and_decodes_to_the_page() {
        use std::io::Read;
        let page = Rendered::new("<p>hello</p>".repeat(100), "Maya".into());
        let (gz, gz_tag) = page.encoded(Encoding::Gzip);
        let (br, br_tag) = page.encoded(Encoding::Brotli);
        let (plain, plain_tag) = page.encoded(Encoding::Identity);
        assert_eq!(plain_tag, page.etag);
        assert!(gz_tag != plain_tag && br_tag != plain_tag && gz_tag != br_tag);
        assert!(gz.len() < plain.len() && br.len() < plain.len());
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text.as_bytes(), &plain[..]);
        let mut text = String::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text.as_bytes(), &plain[..]);
        // Made once: the same bytes again.
        assert_eq!(page.encoded(Encoding::Gzip).0.as_ptr(), gz.as_ptr());
    }

    fn v(t: i64) -> SheetVersion {
        SheetVersion {
            treatment: t,
            patient: 1,
            clinic: 1,
        }
    }

    #[test]
    fn a_changed_version_misses_and_the_least_recently_used_goes_first() {
        let cache = SheetCache::new(2);
        cache.put(
            1,
            Kind::Patient,
            v(1),
            Rendered::new("one".into(), String::new()),
        );
        assert!(cache.get(1, Kind::Patient, v(2)).is_none());
        assert!(cache.get(1, Kind::StaffBody, v(1)).is_none());
        cache.put(
            2,
            Kind::Patient,
            v(1),
            Rendered::new("two".into(), String::new()),
        );
        assert!(cache.get(1, Kind::Patient, v(1)).is_some()); // 1 is now the newer
        cache.put(
            3,
            Kind::Patient,
            v(1),
            Rendered::new("three".into(), String::new()),
        );
        assert_eq!(cache.len(), 2);
        assert!(cache.get(2, Kind::Patient, v(1)).is_none());
        assert_eq!(&cache.get(1, Kind::Patient, v(1)).unwrap().html[..], b"one");
    }

    #[test]
    fn versions_hold_for_a_second_and_until_a_change_in_this_process() {
        let cache = SheetCache::new(2);
        let start = Instant::now();
        let read = |after_ms: u64, changes: u64| VersionRead {
            at: start + Duration::from_millis(after_ms),
            changes,
        };
        assert!(cache.recent_version(1, read(0, 0)).is_none());
        cache.remember_version(1, v(1), read(0, 0));
        assert_eq!(cache.recent_version(1, read(999, 0)), Some(v(1)));
        assert!(
            cache.recent_version(1, read(1000, 0)).is_none(),
            "older than the bound"
        );
        assert!(
            cache.recent_version(1, read(10, 1)).is_none(),
            "changed since"
        );
        // An earlier read finishing last does not replace a later one.
        cache.remember_version(1, v(2), read(500, 0));
        cache.remember_version(1, v(1), read(100, 0));
        assert_eq!(cache.recent_version(1, read(1400, 0)), Some(v(2)));
        // Full: what no longer holds goes first.
        cache.remember_version(2, v(1), read(1400, 0));
        cache.remember_version(3, v(1), read(1600, 0));
        assert!(cache.recent_version(1, read(1600, 0)).is_none());
        assert_eq!(cache.recent_version(2, read(1600, 0)), Some(v(1)));
        assert_eq!(cache.recent_version(3, read(1600, 0)), Some(v(1)));
    }

    #[test]
    fn if_none_match_compares_strongly() {
        let tag = etag_of(b"x");
        assert!(matches(&tag, &tag));
        assert!(matches(&format!("\"a\", {tag}"), &tag));
        assert!(matches("*", &tag));
        assert!(!matches(&format!("W/{tag}"), &tag));
        assert!(!matches("\"other\"", &tag));
        assert_ne!(etag_of(b"x"), etag_of(b"y"));
    }
}
