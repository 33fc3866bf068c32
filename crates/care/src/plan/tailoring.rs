//! Tailoring a plan: the practitioner's adjustments within the protocol's ranges, the add-ons
//! and considerations that lengthen restrictions, the week between actives, and what the
//! treatment form offers to adjust.

use chrono::NaiveDate;

use crate::protocol::{Protocol, Tailor, EMAIL_SPARE_DAYS, MIN_ACTIVE_GAP_DAYS};

use super::input::{resolve, PlanError, Resolved, Tailoring, TreatedArea, TreatmentInput};
use super::timing::stretch_hours;
use super::types::{active_key, Adjusted, SetBy, Unit};

/// A restriction the treatment form offers to adjust, with its default and range for a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjustable {
    pub key: String,
    pub label: String,
    pub unit: Unit,
    /// (band label, default, min, max): one entry when the areas are known, else one per band.
    pub ranges: Vec<(String, u32, u32, u32)>,
}

/// What the form's "Adjust for this session" section lists. With the treated areas known, the
/// defaults are this plan's own (band and healing factor applied); without, every band's.
pub fn adjustables(protocol: &Protocol, areas: &[TreatedArea]) -> Vec<Adjustable> {
    let input = TreatmentInput {
        areas: areas.to_vec(),
        treated_at: NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .unwrap_or_default(),
        time_zone: "UTC".into(),
        send_hour: 9,
        tailoring: Tailoring::default(),
    };
    let known = resolve(protocol, &input).ok();
    let band_indexes: Vec<(usize, usize, f64)> = match &known {
        Some(r) => vec![(r.band, r.actives_band, r.healing_factor)],
        None => (0..protocol.bands().len()).map(|i| (i, i, 1.0)).collect(),
    };
    let mut out = Vec::new();
    for t in protocol
        .timed_avoid()
        .iter()
        .filter(|t| !t.adjust.is_empty())
    {
        let ranges = band_indexes
            .iter()
            .map(|&(b, _, f)| {
                let band = &protocol.bands()[b];
                let [lo, hi] = t.adjust[&band.id];
                let s = |h: u32| stretch_hours(h, f) as u32;
                (band.label.clone(), s(t.until_hours[&band.id]), s(lo), s(hi))
            })
            .collect();
        out.push(Adjustable {
            key: t.id.clone(),
            label: t.label.clone(),
            unit: Unit::Hours,
            ranges,
        });
    }
    for a in protocol.actives().iter().filter(|a| !a.adjust.is_empty()) {
        let ranges = band_indexes
            .iter()
            .map(|&(_, b, _)| {
                let band = &protocol.bands()[b];
                let [lo, hi] = a.adjust[&band.id];
                (band.label.clone(), a.days[&band.id], lo, hi)
            })
            .collect();
        out.push(Adjustable {
            key: active_key(&a.id),
            label: a.name.clone(),
            unit: Unit::Days,
            ranges,
        });
    }
    out
}

/// The tailoring checked and applied: which add-ons and considerations apply, and every
/// restriction's final length.
pub(super) struct Applied<'p> {
    /// Add-ons, then considerations, in protocol order; only those that apply to these areas.
    pub(super) tailors: Vec<&'p Tailor>,
    /// Per timed_avoid, in protocol order: its end in hours after the treatment, stretched.
    pub(super) timed_hours: Vec<i64>,
    /// Per active, in protocol order: the day it may come back.
    pub(super) active_days: Vec<u32>,
    pub(super) adjusted: Vec<Adjusted>,
}

/// The length of one restriction: the practitioner's choice within range (or the default), then
/// lengthened, never shortened, by any add-on or consideration that asks for more.
/// A chosen add-on or consideration, with what it says of the lengths it sets.
type Chosen<'p> = (fn(String) -> SetBy, &'p Tailor);

#[allow(clippy::too_many_arguments)]
fn restriction(
    key: &str,
    label: &str,
    items: &[String],
    unit: Unit,
    default: u32,
    range: Option<[u32; 2]>,
    tailoring: &Tailoring,
    tailors: &[Chosen<'_>],
    adjusted: &mut Vec<Adjusted>,
) -> Result<u32, PlanError> {
    let (mut value, mut by) = (default, SetBy::Practitioner);
    if let Some(&chosen) = tailoring.adjustments.get(key) {
        let [min, max] = range.ok_or_else(|| PlanError::NotAdjustable(key.to_string()))?;
        if !(min..=max).contains(&chosen) {
            return Err(PlanError::AdjustmentOutOfRange {
                key: key.to_string(),
                min,
                max,
                default,
                unit,
            });
        }
        (value, by) = (chosen, SetBy::Practitioner);
    }
    for (kind, t) in tailors {
        if let Some(&least) = t.at_least.get(key) {
            if least > value {
                (value, by) = (least, kind(t.id.clone()));
            }
        }
    }
    if value != default {
        adjusted.push(Adjusted {
            key: key.to_string(),
            label: label.to_string(),
            unit,
            default,
            value,
            by,
            items: items.to_vec(),
        });
    }
    Ok(value)
}

/// Actives of one kind, (weaker, stronger) by id: the stronger never comes back before the
/// weaker (review L2: shop retinol first, then prescription retinoids, even when a practitioner
/// moves shop retinol later than the prescription day).
const WEAKER_FIRST: &[(&str, &str)] = &[("retinol", "prescription-retinoids")];

/// Keeps actives a week apart after tailoring moved some (clinical review, item 2: one product
/// at a time, so a reaction can be traced), and each stronger active of a [`WEAKER_FIRST`] pair
/// after its weaker one. Only ever moves an active later.
fn stagger(protocol: &Protocol, days: &mut [u32], adjusted: &mut Vec<Adjusted>) {
    let index = |id: &str| protocol.actives().iter().position(|a| a.id == id);
    let weaker_of = |i: usize| {
        WEAKER_FIRST
            .iter()
            .filter(|(_, stronger)| index(stronger) == Some(i))
            .find_map(|(weaker, _)| index(weaker))
    };
    // A stronger active sorts after its weaker one; days then only grow along the order.
    let sort_key = |i: usize| match weaker_of(i) {
        Some(w) => (days[i].max(days[w]), 1, i),
        None => (days[i], 0, i),
    };
    let mut order: Vec<usize> = (0..days.len()).collect();
    order.sort_by_key(|&i| sort_key(i));
    for k in 1..order.len() {
        let (before, i) = (days[order[k - 1]], order[k]);
        let earliest = before + MIN_ACTIVE_GAP_DAYS;
        if days[i] < earliest {
            let key = active_key(&protocol.actives()[i].id);
            match adjusted.iter_mut().find(|a| a.key == key) {
                Some(a) => a.value = earliest,
                None => adjusted.push(Adjusted {
                    key,
                    label: protocol.actives()[i].name.clone(),
                    unit: Unit::Days,
                    default: days[i],
                    value: earliest,
                    by: SetBy::OneActiveAWeek,
                    items: Vec::new(),
                }),
            }
            days[i] = earliest;
        }
    }
}

/// Refuses a tailoring whose actives, a week apart, run past the plan: every active's email must
/// go out before the last phase ends, with the loader's spare days (so the answer does not
/// depend on the time of day of the treatment or the send hour). The loader guarantees this for
/// any choice in range on its own; only the week between actives can push one past it.
fn actives_fit(
    protocol: &Protocol,
    r: &Resolved,
    tailoring: &Tailoring,
    days: &[u32],
) -> Result<(), PlanError> {
    let band = &protocol.bands()[r.band].id;
    let last_phase = &protocol.phases()[protocol.phases().len() - 1];
    let end_hours = stretch_hours(last_phase.hours[band][1], r.healing_factor);
    let last = u32::try_from(end_hours / 24)
        .unwrap_or(0)
        .saturating_sub(EMAIL_SPARE_DAYS);
    let Some((late, &day)) = protocol
        .actives()
        .iter()
        .zip(days)
        .filter(|(_, &day)| day > last)
        .max_by_key(|(_, &day)| day)
    else {
        return Ok(());
    };
    // The practitioner's choice to change: the late active's own, else their latest one.
    let field = if tailoring.adjustments.contains_key(&active_key(&late.id)) {
        Some(active_key(&late.id))
    } else {
        protocol
            .actives()
            .iter()
            .filter_map(|a| {
                Some((
                    tailoring.adjustments.get(&active_key(&a.id))?,
                    active_key(&a.id),
                ))
            })
            .max()
            .map(|(_, k)| k)
    };
    Err(PlanError::ActivesPastPlanEnd {
        field: field.map_or_else(|| "add_ons".to_string(), |k| format!("adjust_{k}")),
        name: late.name.clone(),
        day,
        last,
    })
}

/// Decision D2 on this plan: whatever moved the acids later (a consideration, the week between
/// actives), peels and laser end no sooner than the acids' day plus the decision's offset.
fn peels_after_acids(
    protocol: &Protocol,
    band: &str,
    active_days: &[u32],
    timed_hours: &mut [i64],
    adjusted: &mut Vec<Adjusted>,
) {
    let decision = &protocol.decisions().peels_after_acids;
    // The loader checked both ids and the offset for every band.
    let (Some(active), Some(timed), Some(offset)) = (
        protocol
            .actives()
            .iter()
            .position(|a| a.id == decision.active),
        protocol
            .timed_avoid()
            .iter()
            .position(|t| t.id == decision.restriction),
        decision.offset_days.get(band),
    ) else {
        return;
    };
    let floor = i64::from(active_days[active] + offset) * 24;
    if timed_hours[timed] >= floor {
        return;
    }
    let spec = &protocol.timed_avoid()[timed];
    let value = u32::try_from(floor).unwrap_or(u32::MAX);
    match adjusted.iter_mut().find(|a| a.key == spec.id) {
        Some(a) => (a.value, a.by) = (value, SetBy::NotBeforeTheAcids),
        None => adjusted.push(Adjusted {
            key: spec.id.clone(),
            label: if spec.label.is_empty() {
                spec.id.clone()
            } else {
                spec.label.clone()
            },
            unit: Unit::Hours,
            default: u32::try_from(timed_hours[timed]).unwrap_or(0),
            value,
            by: SetBy::NotBeforeTheAcids,
            items: spec.items.clone(),
        }),
    }
    timed_hours[timed] = floor;
}

/// Checks the tailoring against the protocol and applies it to this treatment.
pub(super) fn apply<'p>(
    protocol: &'p Protocol,
    r: &Resolved,
    tailoring: &Tailoring,
) -> Result<Applied<'p>, PlanError> {
    for id in &tailoring.add_ons {
        if !protocol.add_ons().iter().any(|t| &t.id == id) {
            return Err(PlanError::UnknownAddOn(id.clone()));
        }
    }
    for id in &tailoring.considerations {
        if !protocol.considerations().iter().any(|t| &t.id == id) {
            return Err(PlanError::UnknownConsideration(id.clone()));
        }
    }
    let timed_keys = protocol.timed_avoid().iter().map(|t| t.id.clone());
    let active_keys = protocol.actives().iter().map(|a| active_key(&a.id));
    let known: Vec<String> = timed_keys.chain(active_keys).collect();
    if let Some(key) = tailoring.adjustments.keys().find(|k| !known.contains(k)) {
        return Err(PlanError::NotAdjustable(key.clone()));
    }
    // A consideration about the lips means nothing for a treatment of the thighs.
    let applies =
        |t: &Tailor| t.areas.is_empty() || r.areas.iter().any(|(a, _)| t.areas.contains(&a.id));
    let chosen = |list: &'p [Tailor], ids: &[String], kind: fn(String) -> SetBy| {
        list.iter()
            .filter(move |t| ids.contains(&t.id))
            .filter(move |t| applies(t))
            .map(move |t| (kind, t))
            .collect::<Vec<_>>()
    };
    let mut tailors = chosen(protocol.add_ons(), &tailoring.add_ons, SetBy::AddOn);
    tailors.extend(chosen(
        protocol.considerations(),
        &tailoring.considerations,
        SetBy::Consideration,
    ));

    let band = &protocol.bands()[r.band].id;
    let mut adjusted = Vec::new();
    let stretch = |h: u32| stretch_hours(h, r.healing_factor) as u32;
    let mut timed_hours = Vec::new();
    for t in protocol.timed_avoid() {
        let range = t
            .adjust
            .get(band)
            .map(|[lo, hi]| [stretch(*lo), stretch(*hi)]);
        let label = if t.label.is_empty() { &t.id } else { &t.label };
        let default = stretch(t.until_hours[band]);
        let hours = restriction(
            &t.id,
            label,
            &t.items,
            Unit::Hours,
            default,
            range,
            tailoring,
            &tailors,
            &mut adjusted,
        )?;
        timed_hours.push(i64::from(hours));
    }
    let actives_band = &protocol.bands()[r.actives_band].id;
    let mut active_days = Vec::new();
    for a in protocol.actives() {
        let key = active_key(&a.id);
        let range = a.adjust.get(actives_band).copied();
        let day = restriction(
            &key,
            &a.name,
            &[],
            Unit::Days,
            a.days[actives_band],
            range,
            tailoring,
            &tailors,
            &mut adjusted,
        )?;
        active_days.push(day);
    }
    stagger(protocol, &mut active_days, &mut adjusted);
    actives_fit(protocol, r, tailoring, &active_days)?;
    peels_after_acids(
        protocol,
        band,
        &active_days,
        &mut timed_hours,
        &mut adjusted,
    );
    Ok(Applied {
        tailors: tailors.into_iter().map(|(_, t)| t).collect(),
        timed_hours,
        active_days,
        adjusted,
    })
}
