//! Opening the clinic's database: what start-up and the command line do
//! before any other use case can run.

use crate::config::DatabaseSettings;

use super::store::{self, Pool, SetupError};

/// Brings the schema up to date; the names of the migrations it applied.
pub fn migrate(settings: &DatabaseSettings) -> Result<Vec<String>, SetupError> {
    store::migrate(settings)
}

/// The schema brought up to date, then a pool of connections to it.
pub fn open(settings: &DatabaseSettings) -> Result<Pool, SetupError> {
    store::migrate(settings)?;
    store::pool(settings)
}

/// The secret the instances of one clinic sign with when none is configured:
/// the first process to ask stores `candidate`, and every later one reads it.
pub fn shared_secret(pool: &Pool, candidate: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    const SECRET_KEY_SETTING: &str = "secret_key";
    let mut conn = pool
        .get()
        .context("cannot reach the database for the secret key")?;
    store::settings::get_or_insert(&mut conn, SECRET_KEY_SETTING, candidate)
        .context("cannot read or store the generated secret key")
}
