//! The database: which one (from the URL's scheme alone) and how many
//! connections the app keeps to it.

use super::read::Reader;
use super::secrets::{redact, SecretUrl};

/// Which database the URL selects. Chosen from the scheme alone: a URL we do
/// not recognise is an error, never a silent fallback to SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: SecretUrl,
    pub backend: Backend,
    pub pool_size: u32,
}

impl DatabaseSettings {
    pub fn parse(url: &str) -> Result<Self, String> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite://") || url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(format!(
                "AFTERCARE_DATABASE_URL: {:?} is neither sqlite://PATH nor postgres://…",
                redact(url)
            ));
        };
        if backend == Backend::Sqlite && sqlite_path(url).is_empty() {
            return Err("AFTERCARE_DATABASE_URL: the sqlite:// URL names no file".into());
        }
        Ok(Self {
            url: SecretUrl::new(url),
            backend,
            pool_size: default_pool_size(),
        })
    }

    /// The path SQLite opens: the URL without its scheme.
    pub fn sqlite_path(&self) -> &str {
        sqlite_path(self.url.expose_secret())
    }
}

/// `AFTERCARE_DATABASE_URL` (`sqlite://aftercare.db` when unset) and
/// `AFTERCARE_DATABASE_POOL_SIZE`; `None` when the URL is wrong (noted).
pub(super) fn read(r: &mut Reader) -> Option<DatabaseSettings> {
    let url = r
        .var("AFTERCARE_DATABASE_URL")
        .unwrap_or_else(|| "sqlite://aftercare.db".into());
    let database = DatabaseSettings::parse(&url).map_err(|e| r.error(e)).ok();
    let pool_size = r.count(
        "AFTERCARE_DATABASE_POOL_SIZE",
        default_pool_size().into(),
        256,
    ) as u32;
    Some(DatabaseSettings {
        pool_size,
        ..database?
    })
}

/// Two connections per core, at least 4. More only queue inside the
/// database: with 10 on this project's 2-core benchmark machine, PostgreSQL's
/// backend processes crowded the cores and p99 of `/healthz` rose from 4.8 to
/// 20 ms (BENCHMARKS.md, F5).
fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cores).clamp(4, 32) as u32
}

fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::settings;

    #[test]
    fn postgres_is_chosen_by_scheme() {
        let s = settings(&[("AFTERCARE_DATABASE_URL", "postgres://u@h/db")]).unwrap();
        assert_eq!(s.database.backend, Backend::Postgres);
    }

    #[test]
    fn the_pool_is_sized_by_the_cores_unless_set() {
        let cores = std::thread::available_parallelism().unwrap().get() as u32;
        let default = settings(&[]).unwrap().database.pool_size;
        assert_eq!(default, (2 * cores).clamp(4, 32));
        let set = settings(&[("AFTERCARE_DATABASE_POOL_SIZE", "12")]).unwrap();
        assert_eq!(set.database.pool_size, 12);
        let errors = settings(&[("AFTERCARE_DATABASE_POOL_SIZE", "0")]).unwrap_err();
        assert_eq!(
            errors,
            ["AFTERCARE_DATABASE_POOL_SIZE: \"0\" is not a whole number from 1 to 256"]
        );
    }
}
