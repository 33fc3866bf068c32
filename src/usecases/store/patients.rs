//! Patients.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::insert_returning_id;
use super::schema::patients;
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = patients)]
pub struct PatientRow {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub email_consent: bool,
    pub consent_by: Option<i64>,
    pub consent_at: Option<NaiveDateTime>,
    pub unsubscribed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// Protocol consideration ids, comma-separated.
    pub skin_considerations: String,
    /// When the patient's data was erased at their request (the row stays, without identity).
    pub erased_at: Option<NaiveDateTime>,
}

impl PatientRow {
    /// The recorded skin considerations, as protocol ids.
    pub fn considerations(&self) -> Vec<String> {
        self.skin_considerations
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Whether aftercare emails may go to this patient at all: they agreed,
    /// gave an address, and have not unsubscribed.
    pub fn can_be_emailed(&self) -> bool {
        self.email_consent
            && self.email.is_some()
            && self.unsubscribed_at.is_none()
            && !self.is_erased()
    }

    pub fn is_erased(&self) -> bool {
        self.erased_at.is_some()
    }
}

/// The fields a person edits.
#[derive(Debug, Clone, AsChangeset, Insertable)]
#[diesel(table_name = patients, treat_none_as_null = true)]
pub struct PatientFields {
    pub name: String,
    pub name_search: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// [`phone_key`] of `phone`.
    pub phone_search: String,
    pub date_of_birth: Option<NaiveDate>,
    pub email_consent: bool,
    pub consent_by: Option<i64>,
    pub consent_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, fields: &PatientFields, now: NaiveDateTime) -> QueryResult<i64> {
    insert_returning_id!(
        conn,
        diesel::insert_into(patients::table).values((fields, patients::created_at.eq(now))),
        patients::id
    )
}

pub fn update(conn: &mut DbConn, id: i64, fields: &PatientFields) -> QueryResult<usize> {
    diesel::update(patients::table.find(id))
        .set((fields, patients::version.eq(patients::version + 1)))
        .execute(conn)
}

/// Records the patient's skin considerations (ids), which later treatments start from.
pub fn set_considerations(
    conn: &mut DbConn,
    id: i64,
    ids: &[String],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(patients::table.find(id))
        .set((
            patients::skin_considerations.eq(ids.join(",")),
            patients::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<PatientRow>> {
    patients::table
        .find(id)
        .select(PatientRow::as_select())
        .get_result(conn)
        .optional()
}

/// Other patients with this email (for the duplicate warning).
pub fn others_with_email(
    conn: &mut DbConn,
    email: &str,
    except: Option<i64>,
) -> QueryResult<Vec<PatientRow>> {
    patients::table
        .filter(patients::email.eq(email))
        .filter(patients::id.ne(except.unwrap_or(0)))
        .select(PatientRow::as_select())
        .limit(5)
        .load(conn)
}

/// `query` as one FTS5 phrase: in double quotes, any `"` inside doubled, so
/// every character is matched literally (no FTS5 operators).
fn fts_phrase(query: &str) -> String {
    format!("\"{}\"", query.replace('"', "\"\""))
}

/// The shortest query the trigram index can answer; shorter ones match
/// nothing through FTS5, so they keep the plain `LIKE` scan.
const TRIGRAM: usize = 3;

/// SQLite: from this many trigram matches on, a term is common enough that
/// walking the covering index `patients_search_order` in name order and
/// testing `LIKE` fills a page sooner than fetching and sorting every match.
/// At 100,000 patients: `patel` (5,016 matches) 0.3 ms by the walk, 3–10 ms
/// through FTS5; `maya patel` (209) 1.5 ms through FTS5; a walk that finds
/// nothing reads the whole index, 10 ms. Counting up to 300 costs 0.1 ms.
const FTS_MAX_MATCHES: i64 = 300;

/// Patients whose name or email contains `query` (case-insensitive), by name.
///
/// The `LIKE` filter defines the result on both backends. What makes it fast
/// differs (BENCHMARKS.md F4): PostgreSQL answers it from the `pg_trgm` GIN
/// indexes as it stands (its planner weighs how common the term is); SQLite
/// first narrows to the rows its trigram FTS5 index `patients_fts` matches,
/// unless a quick count there finds the term common (see [`FTS_MAX_MATCHES`]).
/// That index folds case beyond ASCII, so it matches every row the `LIKE`
/// matches and perhaps more; the `LIKE` keeps the result exact.
/// How many of a phone number's last digits identify it, however it is written: "+44 7700
/// 900123", "07700 900123" and "7700-900123" all end in 700900123 (and US numbers, with or
/// without the 1, in their last nine too).
const PHONE_KEY_DIGITS: usize = 9;

/// A phone number's search key: its last nine digits, or all of them when it has fewer (as
/// the migration that added the key computes it for older rows).
pub fn phone_key(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(PHONE_KEY_DIGITS)..]
        .iter()
        .collect()
}

/// A search that is a phone number (digits and the signs people write in numbers, nine digits
/// or more): its key.
fn phone_query(query: &str) -> Option<String> {
    let written_as_number = query
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    let key = phone_key(query);
    (written_as_number && key.len() == PHONE_KEY_DIGITS).then_some(key)
}

pub fn search(
    conn: &mut DbConn,
    query: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<PatientRow>> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Bool, Text};

    if let Some(key) = phone_query(query.trim()) {
        return patients::table
            .filter(patients::phone_search.eq(key))
            .order((patients::name_search.asc(), patients::id.asc()))
            .offset(offset)
            .limit(limit)
            .select(PatientRow::as_select())
            .load(conn);
    }

    let query = query.to_lowercase();
    let pattern = super::like_pattern(&query);
    // The page's ids first, then their rows: the ids come from the covering
    // index `patients_search_order` alone (PostgreSQL: an index-only scan,
    // 0.6 ms instead of 5 ms for a common surname), and only the page's rows
    // are read from the table.
    let mut page_ids = patients::table
        .filter(
            patients::name_search
                .like(&pattern)
                .escape('\\')
                .or(patients::email.like(&pattern).escape('\\')),
        )
        .order((patients::name_search.asc(), patients::id.asc()))
        .offset(offset)
        .limit(limit)
        .select(patients::id)
        .into_boxed();
    // A NUL (a syntax error to FTS5) never gets here: the web layer refuses it.
    if matches!(conn, DbConn::Sqlite(_)) && query.chars().count() >= TRIGRAM {
        let phrase = fts_phrase(&query);
        let matches: i64 = diesel::select(
            sql::<BigInt>(
                "(SELECT count(*) FROM (SELECT 1 FROM patients_fts WHERE patients_fts MATCH ",
            )
            .bind::<Text, _>(&phrase)
            // Written out, not bound: SQLite re-prepares a statement whose
            // bound LIMIT is set again (BENCHMARKS.md, F2).
            .sql(&format!(" LIMIT {FTS_MAX_MATCHES}))")),
        )
        .get_result(conn)?;
        if matches < FTS_MAX_MATCHES {
            page_ids = page_ids.filter(
                sql::<Bool>(
                    "patients.id IN (SELECT rowid FROM patients_fts WHERE patients_fts MATCH ",
                )
                .bind::<Text, _>(phrase)
                .sql(")"),
            );
        }
    }
    // Two statements: `MultiConnection` cannot nest a boxed query.
    let page_ids: Vec<i64> = page_ids.load(conn)?;
    if page_ids.is_empty() {
        return Ok(Vec::new());
    }
    patients::table
        .filter(patients::id.eq_any(page_ids))
        .order((patients::name_search.asc(), patients::id.asc()))
        .select(PatientRow::as_select())
        .load(conn)
}

pub fn set_unsubscribed(
    conn: &mut DbConn,
    id: i64,
    at: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    diesel::update(patients::table.find(id))
        .set(patients::unsubscribed_at.eq(at))
        .execute(conn)
}

/// What an erased patient is called wherever a name is shown or searched.
pub fn erased_name(id: i64) -> String {
    format!("Erased patient #{id}")
}

/// Overwrites the patient's identity (name, contact details, date of birth, consent and skin
/// considerations) and marks the row erased. On SQLite the search index is merged afterwards,
/// so the old name's entries leave its pages rather than wait behind a delete marker.
pub fn erase(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    let name = erased_name(id);
    let changed = diesel::update(patients::table.find(id))
        .set((
            patients::name_search.eq(name.to_lowercase()),
            patients::name.eq(name),
            patients::email.eq(None::<String>),
            patients::phone.eq(None::<String>),
            patients::phone_search.eq(""),
            patients::date_of_birth.eq(None::<NaiveDate>),
            patients::email_consent.eq(false),
            patients::consent_by.eq(None::<i64>),
            patients::consent_at.eq(None::<NaiveDateTime>),
            patients::skin_considerations.eq(""),
            patients::erased_at.eq(now),
            patients::updated_at.eq(now),
            patients::version.eq(patients::version + 1),
        ))
        .execute(conn)?;
    if let DbConn::Sqlite(c) = conn {
        diesel::sql_query("INSERT INTO patients_fts(patients_fts) VALUES ('optimize')")
            .execute(c)?;
    }
    Ok(changed)
}
