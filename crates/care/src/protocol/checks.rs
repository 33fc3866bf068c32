//! The small checks every part of the protocol loader shares (the main validation and the
//! clinic's decisions): a failure that names its entry, and checks of texts, sources, bounds and
//! band-keyed values.

use std::collections::BTreeMap;

use super::types::{Band, ByBand};

/// Days and hours above this are surely a typo; the bound also keeps all date arithmetic far
/// from chrono's limits.
pub(super) const MAX_DAYS: u32 = 366;

/// A validation failure before the file name is attached.
pub(super) struct Invalid {
    pub entry: String,
    pub problem: String,
}

pub(super) type Check = Result<(), Invalid>;

pub(super) fn fail<T>(entry: &str, problem: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid {
        entry: entry.to_string(),
        problem: problem.into(),
    })
}

pub(super) fn check_filled(entry: &str, texts: Vec<(String, &str)>) -> Check {
    for (field, text) in texts {
        if text.trim().is_empty() {
            return fail(entry, format!("{field} is empty"));
        }
    }
    Ok(())
}

pub(super) fn check_texts(entry: &str, texts: Vec<(String, &str)>, sources: &[String]) -> Check {
    check_filled(entry, texts)?;
    if sources.is_empty() {
        return fail(
            entry,
            "sources is empty: name the sources this entry rests on",
        );
    }
    if let Some(i) = sources.iter().position(|s| s.trim().is_empty()) {
        return fail(entry, format!("sources[{i}] is empty"));
    }
    Ok(())
}

/// Names list entries as `phases[3] "day-3"` in messages.
pub(super) fn entry_name(list: &str, index: usize, id: &str) -> String {
    format!("{list}[{index}] \"{id}\"")
}

/// Values of a band-keyed map in band order (shallowest first): every band present, no other key.
pub(super) fn per_band<'a, T>(
    entry: &str,
    field: &str,
    map: &'a BTreeMap<String, T>,
    bands: &[Band],
) -> Result<Vec<&'a T>, Invalid> {
    if let Some(unknown) = map.keys().find(|k| !bands.iter().any(|b| &b.id == *k)) {
        return fail(entry, format!("{field} names unknown band \"{unknown}\""));
    }
    bands
        .iter()
        .map(|b| match map.get(&b.id) {
            Some(v) => Ok(v),
            None => fail(entry, format!("{field} has no value for band \"{}\"", b.id)),
        })
        .collect()
}

pub(super) fn at_most(entry: &str, field: &str, value: u32, max: u32) -> Check {
    if value > max {
        return fail(entry, format!("{field} is {value}, more than {max}"));
    }
    Ok(())
}

/// A value given once, or for every band and no other: in band order.
pub(super) fn by_band<'a, T>(
    entry: &str,
    field: &str,
    value: &'a ByBand<T>,
    bands: &[Band],
) -> Result<Vec<&'a T>, Invalid> {
    match value {
        ByBand::Same(v) => Ok(bands.iter().map(|_| v).collect()),
        ByBand::PerBand(map) => per_band(entry, field, map, bands),
    }
}

/// A deeper treatment must never get a shorter plan or an earlier date.
pub(super) fn never_sooner(entry: &str, field: &str, values: &[u32], bands: &[Band]) -> Check {
    for i in 1..values.len() {
        if values[i] < values[i - 1] {
            return fail(
                entry,
                format!(
                    "{field} for band \"{}\" ({}) is earlier than for the shallower band \"{}\" ({}); \
                     a deeper treatment must never get it sooner",
                    bands[i].id,
                    values[i],
                    bands[i - 1].id,
                    values[i - 1]
                ),
            );
        }
    }
    Ok(())
}

pub(super) fn known_band(entry: &str, field: &str, band: &str, bands: &[Band]) -> Check {
    if bands.iter().any(|b| b.id == band) {
        Ok(())
    } else {
        fail(entry, format!("{field} names unknown band \"{band}\""))
    }
}

pub(super) fn not_empty<T>(entry: &str, field: &str, items: &[T]) -> Check {
    if items.is_empty() {
        return fail(entry, format!("{field} is empty"));
    }
    Ok(())
}
