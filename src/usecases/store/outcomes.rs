//! The Outcomes page's facts: one row per live treatment with counters kept on write
//! (`treatment_outcomes`), and its areas and add-ons (`treatment_outcome_areas`,
//! `treatment_outcome_add_ons`). Owned by `usecases::outcomes`.
//!
//! Reads are a `GROUP BY` over the period's rows (an index on `treated_on`): one over the
//! treatment's own dimensions together ([`Breakdown::Dims`], summed per breakdown by the use
//! case), one per area and per add-on. The times from a check-in to its acknowledgement come
//! from the acknowledged check-ins (the partial index `checkins_acknowledged`) joined to the
//! period's treatments. PostgreSQL computes their percentiles (`percentile_cont`); SQLite,
//! which has none, hands back the period's durations in order and the use case interpolates
//! the same way.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Double, Nullable, Text};

use super::schema::treatment_outcomes as facts;
use super::schema::{treatment_outcome_add_ons as add_ons, treatment_outcome_areas as areas};
use super::{execute_per_backend, DbConn};

/// What a treatment is grouped by.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = facts)]
pub struct Dimensions {
    pub treated_on: NaiveDate,
    pub protocol_version: String,
    pub depth_band: String,
}

/// The counter a check-in adds one to, besides `checkins`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultColumn {
    Emergency,
    CallNow,
    TellUs,
    ToReview,
    AsExpected,
}

pub fn insert(
    conn: &mut DbConn,
    treatment_id: i64,
    patient_id: i64,
    practitioner_id: i64,
    dims: &Dimensions,
    area_ids: &[String],
    add_on_ids: &[String],
) -> QueryResult<()> {
    diesel::insert_into(facts::table)
        .values((
            facts::treatment_id.eq(treatment_id),
            facts::patient_id.eq(patient_id),
            facts::practitioner_id.eq(practitioner_id),
            dims,
        ))
        .execute(conn)?;
    set_parts(conn, treatment_id, dims.treated_on, area_ids, add_on_ids)
}

/// A treatment edited: its dimensions and parts anew, its counters kept.
pub fn update(
    conn: &mut DbConn,
    treatment_id: i64,
    dims: &Dimensions,
    area_ids: &[String],
    add_on_ids: &[String],
) -> QueryResult<usize> {
    let changed = diesel::update(facts::table.find(treatment_id))
        .set(dims)
        .execute(conn)?;
    if changed > 0 {
        set_parts(conn, treatment_id, dims.treated_on, area_ids, add_on_ids)?;
    }
    Ok(changed)
}

fn set_parts(
    conn: &mut DbConn,
    treatment_id: i64,
    on: NaiveDate,
    area_ids: &[String],
    add_on_ids: &[String],
) -> QueryResult<()> {
    diesel::delete(areas::table.filter(areas::treatment_id.eq(treatment_id))).execute(conn)?;
    diesel::delete(add_ons::table.filter(add_ons::treatment_id.eq(treatment_id))).execute(conn)?;
    let area_rows: Vec<_> = area_ids
        .iter()
        .map(|a| {
            (
                areas::treatment_id.eq(treatment_id),
                areas::area_id.eq(a),
                areas::treated_on.eq(on),
            )
        })
        .collect();
    if !area_rows.is_empty() {
        execute_per_backend!(conn, diesel::insert_into(areas::table).values(&area_rows))?;
    }
    let add_on_rows: Vec<_> = add_on_ids
        .iter()
        .map(|a| {
            (
                add_ons::treatment_id.eq(treatment_id),
                add_ons::add_on.eq(a),
                add_ons::treated_on.eq(on),
            )
        })
        .collect();
    if !add_on_rows.is_empty() {
        execute_per_backend!(
            conn,
            diesel::insert_into(add_ons::table).values(&add_on_rows)
        )?;
    }
    Ok(())
}

/// A treatment deleted: it no longer counts.
pub fn delete(conn: &mut DbConn, treatment_id: i64) -> QueryResult<usize> {
    diesel::delete(areas::table.filter(areas::treatment_id.eq(treatment_id))).execute(conn)?;
    diesel::delete(add_ons::table.filter(add_ons::treatment_id.eq(treatment_id))).execute(conn)?;
    diesel::delete(facts::table.find(treatment_id)).execute(conn)
}

pub fn count_checkin(
    conn: &mut DbConn,
    treatment_id: i64,
    result: ResultColumn,
) -> QueryResult<usize> {
    let row = facts::table.find(treatment_id);
    let total = facts::checkins.eq(facts::checkins + 1);
    match result {
        ResultColumn::Emergency => diesel::update(row)
            .set((total, facts::emergency.eq(facts::emergency + 1)))
            .execute(conn),
        ResultColumn::CallNow => diesel::update(row)
            .set((total, facts::call_now.eq(facts::call_now + 1)))
            .execute(conn),
        ResultColumn::TellUs => diesel::update(row)
            .set((total, facts::tell_us.eq(facts::tell_us + 1)))
            .execute(conn),
        ResultColumn::ToReview => diesel::update(row)
            .set((total, facts::to_review.eq(facts::to_review + 1)))
            .execute(conn),
        ResultColumn::AsExpected => diesel::update(row)
            .set((total, facts::as_expected.eq(facts::as_expected + 1)))
            .execute(conn),
    }
}

pub fn count_failed_email(conn: &mut DbConn, treatment_id: i64) -> QueryResult<usize> {
    diesel::update(facts::table.find(treatment_id))
        .set(facts::emails_failed.eq(facts::emails_failed + 1))
        .execute(conn)
}

/// Marks the patient's latest live treatment as the one they unsubscribed from.
pub fn mark_unsubscribed(conn: &mut DbConn, patient_id: i64) -> QueryResult<usize> {
    let latest = facts::table
        .filter(facts::patient_id.eq(patient_id))
        .order((facts::treated_on.desc(), facts::treatment_id.desc()))
        .select(facts::treatment_id)
        .first::<i64>(conn)
        .optional()?;
    match latest {
        Some(id) => diesel::update(facts::table.find(id))
            .set(facts::unsubscribed.eq(1))
            .execute(conn),
        None => Ok(0),
    }
}

/// What the page breaks its figures down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    /// The whole period, one row keyed "".
    All,
    /// Protocol version, depth band and practitioner together, keyed `version|band|id`: the
    /// four breakdowns of the treatment's own row (with `All`) summed from this one scan.
    Dims,
    ProtocolVersion,
    DepthBand,
    Practitioner,
    Area,
    AddOn,
}

impl Breakdown {
    /// (the group's key, the tables after `FROM`, the date column filtered on).
    fn sql(self) -> (&'static str, &'static str, &'static str) {
        const FACTS: &str = "treatment_outcomes o";
        match self {
            Breakdown::All => ("CAST('' AS TEXT)", FACTS, "o.treated_on"),
            Breakdown::Dims => (
                "o.protocol_version || '|' || o.depth_band || '|' || CAST(o.practitioner_id AS TEXT)",
                FACTS,
                "o.treated_on",
            ),
            Breakdown::ProtocolVersion => ("o.protocol_version", FACTS, "o.treated_on"),
            Breakdown::DepthBand => ("o.depth_band", FACTS, "o.treated_on"),
            Breakdown::Practitioner => ("CAST(o.practitioner_id AS TEXT)", FACTS, "o.treated_on"),
            Breakdown::Area => (
                "x.area_id",
                "treatment_outcome_areas x JOIN treatment_outcomes o ON o.treatment_id = x.treatment_id",
                "x.treated_on",
            ),
            Breakdown::AddOn => (
                "x.add_on",
                "treatment_outcome_add_ons x JOIN treatment_outcomes o ON o.treatment_id = x.treatment_id",
                "x.treated_on",
            ),
        }
    }
}

/// One group's counts.
#[derive(Debug, Clone, Default, QueryableByName)]
pub struct GroupCounts {
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = BigInt)]
    pub treatments: i64,
    #[diesel(sql_type = BigInt)]
    pub with_checkin: i64,
    #[diesel(sql_type = BigInt)]
    pub checkins: i64,
    #[diesel(sql_type = BigInt)]
    pub emergency: i64,
    #[diesel(sql_type = BigInt)]
    pub call_now: i64,
    #[diesel(sql_type = BigInt)]
    pub tell_us: i64,
    #[diesel(sql_type = BigInt)]
    pub to_review: i64,
    #[diesel(sql_type = BigInt)]
    pub as_expected: i64,
    #[diesel(sql_type = BigInt)]
    pub emails_failed: i64,
    #[diesel(sql_type = BigInt)]
    pub unsubscribed: i64,
}

/// The statement with its two dates (`{from}`, `{to}`) as the backend binds them.
fn placeholders(sql: &str, conn: &DbConn) -> String {
    match conn {
        DbConn::Pg(_) => sql.replace("{from}", "$1").replace("{to}", "$2"),
        DbConn::Sqlite(_) => sql.replace("{from}", "?").replace("{to}", "?"),
    }
}

macro_rules! load_between {
    ($conn:expr, $sql:expr, $from:expr, $to:expr, $row:ty) => {{
        let sql = placeholders(&$sql, $conn);
        match $conn {
            DbConn::Pg(c) => diesel::sql_query(sql)
                .bind::<Date, _>($from)
                .bind::<Date, _>($to)
                .load::<$row>(c),
            DbConn::Sqlite(c) => diesel::sql_query(sql)
                .bind::<Date, _>($from)
                .bind::<Date, _>($to)
                .load::<$row>(c),
        }
    }};
}

/// The statement [`counts`] runs (also for `EXPLAIN` in the bench).
pub fn counts_sql(by: Breakdown) -> String {
    let (key, from, on) = by.sql();
    let sum = |c: &str| format!("CAST(COALESCE(SUM(o.{c}), 0) AS BIGINT) AS {c}");
    let group = if by == Breakdown::All {
        String::new()
    } else {
        format!(" GROUP BY {key}")
    };
    format!(
        "SELECT {key} AS key, COUNT(*) AS treatments, \
         CAST(COALESCE(SUM(CASE WHEN o.checkins > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS with_checkin, \
         {}, {}, {}, {}, {}, {}, {}, {} \
         FROM {from} WHERE {on} >= {{from}} AND {on} <= {{to}}{group}",
        sum("checkins"),
        sum("emergency"),
        sum("call_now"),
        sum("tell_us"),
        sum("to_review"),
        sum("as_expected"),
        sum("emails_failed"),
        sum("unsubscribed"),
    )
}

/// The counts of the treatments done from `from` to `to` (clinic dates, both included), one
/// row per group.
pub fn counts(
    conn: &mut DbConn,
    by: Breakdown,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<GroupCounts>> {
    load_between!(conn, counts_sql(by), from, to, GroupCounts)
}

/// The times from a check-in to its acknowledgement, in seconds, of one group: PostgreSQL
/// gives the median and 90th percentile; SQLite every time, in order (`seconds`).
#[derive(Debug, Clone, Default)]
pub struct GroupTimes {
    pub key: String,
    pub answered: i64,
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub seconds: Vec<f64>,
}

#[derive(QueryableByName)]
struct PgTimes {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    answered: i64,
    #[diesel(sql_type = Nullable<Double>)]
    median: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    p90: Option<f64>,
}

#[derive(QueryableByName)]
struct OneTime {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Double)]
    seconds: f64,
}

/// The statement [`times`] runs on this backend (also for `EXPLAIN` in the bench).
pub fn times_sql(by: Breakdown, conn: &DbConn) -> String {
    let (key, from, on) = by.sql();
    let tables = format!(
        "{from} JOIN checkins c ON c.treatment_id = o.treatment_id \
         WHERE {on} >= {{from}} AND {on} <= {{to}} AND c.acknowledged_at IS NOT NULL"
    );
    let group = if by == Breakdown::All {
        String::new()
    } else {
        format!(" GROUP BY {key}")
    };
    match conn {
        DbConn::Pg(_) => {
            let secs =
                "CAST(EXTRACT(EPOCH FROM (c.acknowledged_at - c.created_at)) AS DOUBLE PRECISION)";
            format!(
                "SELECT {key} AS key, COUNT(*) AS answered, \
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY {secs}) AS median, \
                 percentile_cont(0.9) WITHIN GROUP (ORDER BY {secs}) AS p90 \
                 FROM {tables}{group}"
            )
        }
        // From the acknowledged check-ins (their index), few beside the treatments, each
        // joined to its treatment's row: `CROSS JOIN` keeps SQLite to that order.
        DbConn::Sqlite(_) => {
            let parts = match by {
                Breakdown::Area => {
                    " JOIN treatment_outcome_areas x ON x.treatment_id = o.treatment_id"
                }
                Breakdown::AddOn => {
                    " JOIN treatment_outcome_add_ons x ON x.treatment_id = o.treatment_id"
                }
                _ => "",
            };
            format!(
                "SELECT {key} AS key, \
                 CAST((julianday(c.acknowledged_at) - julianday(c.created_at)) * 86400.0 AS REAL) AS seconds \
                 FROM checkins c CROSS JOIN treatment_outcomes o{parts} \
                 WHERE c.acknowledged_at IS NOT NULL AND o.treatment_id = c.treatment_id \
                 AND o.treated_on >= {{from}} AND o.treated_on <= {{to}} ORDER BY 1, 2"
            )
        }
    }
}

/// Whether [`times`] gives percentiles (PostgreSQL) rather than every time (SQLite).
pub fn percentiles_in_sql(conn: &DbConn) -> bool {
    matches!(conn, DbConn::Pg(_))
}

/// The acknowledgement times of the check-ins of the period's treatments, by group.
pub fn times(
    conn: &mut DbConn,
    by: Breakdown,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<GroupTimes>> {
    let sql = times_sql(by, conn);
    if let DbConn::Pg(_) = conn {
        let rows = load_between!(conn, sql, from, to, PgTimes)?;
        return Ok(rows
            .into_iter()
            .filter(|r| r.answered > 0)
            .map(|r| GroupTimes {
                key: r.key,
                answered: r.answered,
                median: r.median,
                p90: r.p90,
                seconds: Vec::new(),
            })
            .collect());
    }
    let rows = load_between!(conn, sql, from, to, OneTime)?;
    let mut groups: Vec<GroupTimes> = Vec::new();
    for row in rows {
        match groups.last_mut() {
            Some(g) if g.key == row.key => g.seconds.push(row.seconds),
            _ => groups.push(GroupTimes {
                key: row.key,
                seconds: vec![row.seconds],
                ..GroupTimes::default()
            }),
        }
    }
    for g in &mut groups {
        g.answered = g.seconds.len() as i64;
    }
    Ok(groups)
}
