//! Computing the plan from a checked input: phases with real dates, actives, notes, normal
//! signs, red flags and the next session.

use crate::protocol::{sign_day_refs, NormalSignSpec, Protocol, Tailor, DAY, GAP, TONIGHT};
use crate::schedule::offset_changes;

use super::emails::reminders;
use super::input::{resolve, PlanError, Resolved, TreatmentInput};
use super::tailoring::{apply, Applied};
use super::timing::{add_days, after_hours, at_hours, moment, stretch_days, stretch_hours};
use super::types::{
    active_key, ActiveReturn, AreaNotes, AvoidUntil, ClockChange, NextSession, NormalSign, Phase,
    Plan, PlanArea, PlanBand, RedFlagGroup, RedFlagList,
};

/// Computes the plan. Pure: the same protocol and input always give the same plan.
///
/// Rules: the deepest depth picks the band; the slowest-healing class (largest healing factor)
/// stretches every phase and the next-session window, and adds its extra morning emails; a class
/// with `actives_band` (body) makes actives follow at least that band.
///
/// Time: phase boundaries are the treatment instant plus the protocol's hours, added in absolute
/// time and then shown on the clinic's clock. Healing runs on elapsed hours, not on the clock: a
/// 24-hour phase lasts 24 hours even on a daylight-saving night, and a boundary can never fall in
/// a skipped or repeated local hour. So across a DST change, boundaries show the local time of
/// day shifted by the change (a 14:30 treatment's later boundaries read 15:30 after spring
/// forward). Dates of actives, the next-session window and emails are local calendar days;
/// emails go out at the send hour local time (DST rule: see [`crate::schedule`]).
pub fn compute_plan(protocol: &Protocol, input: &TreatmentInput) -> Result<Plan, PlanError> {
    let r = resolve(protocol, input)?;
    let applied = apply(protocol, &r, &input.tailoring)?;
    let phases = phases(protocol, &r, &applied);
    let healed_by = phases[phases.len() - 1].starts_at;
    let reminders = reminders(protocol, &r, &phases, &applied);
    let [from, to] = r.next_session_days;
    let band = &protocol.bands()[r.band];
    let normal_signs = normal_signs(protocol, &r, &applied);
    let clock_changes = offset_changes(r.tz, r.treated_utc, phases[phases.len() - 1].ends_at.utc)
        .into_iter()
        .map(|(at, minutes)| ClockChange {
            at: moment(r.tz, at),
            minutes,
        })
        .collect();
    let fill_days = |text: &str| {
        let mut out = text.to_string();
        for id in sign_day_refs(text) {
            if let Some(sign) = normal_signs.iter().find(|s| s.id == id) {
                out = out.replace(&format!("{{day:{id}}}"), &sign.last_day.to_string());
            }
        }
        out
    };
    let mut plan = Plan {
        protocol_name: protocol.name().to_string(),
        protocol_version: protocol.version().to_string(),
        disclaimer: protocol.disclaimer().to_string(),
        tonight: replaced(protocol, &r, TONIGHT, &protocol.tonight().items),
        normal: Vec::new(),
        normal_emails: 0,
        avoid_until: protocol
            .timed_avoid()
            .iter()
            .zip(&applied.timed_hours)
            .map(|(t, &hours)| AvoidUntil {
                until: after_hours(&r, hours),
                items: t.items.clone(),
            })
            .collect(),
        band: PlanBand {
            id: band.id.clone(),
            label: band.label.clone(),
        },
        time_zone: r.tz,
        send_hour: input.send_hour,
        treated_at: moment(r.tz, r.treated_utc),
        areas: r
            .areas
            .iter()
            .map(|(area, depth)| PlanArea {
                id: area.id.clone(),
                label: area.label.clone(),
                depth_mm: *depth,
            })
            .collect(),
        actives: actives(protocol, &r, &applied),
        area_notes: area_notes(protocol, &r),
        area_notes_in_emails: true,
        red_flags: RedFlagList {
            intro: String::new(),
            items: Vec::new(),
            groups: protocol
                .red_flags()
                .iter()
                .map(|g| RedFlagGroup {
                    urgency: g.id,
                    title: g.title.clone(),
                    items: g.items.iter().map(|i| fill_days(i)).collect(),
                })
                .collect(),
        },
        next_session: NextSession {
            from: add_days(r.treated_date, from),
            to: add_days(r.treated_date, to),
            note: protocol
                .next_session()
                .note
                .replace(GAP, &gap_text(from, to)),
        },
        healed_by,
        phases,
        reminders,
        tailoring: input.tailoring.clone(),
        added_items: applied
            .tailors
            .iter()
            .flat_map(|t| t.do_items.iter().chain(&t.avoid_items).cloned())
            .collect(),
        session_notes: applied
            .tailors
            .iter()
            .filter(|t| !t.notes.is_empty())
            .map(|t| AreaNotes {
                label: t.patient_label.clone().unwrap_or_else(|| t.label.clone()),
                notes: t.notes.clone(),
                last_day: None,
            })
            .collect(),
        adjusted: applied.adjusted,
        normal_signs,
        clock_changes,
    };
    link_red_flags(protocol, &mut plan);
    Ok(plan)
}

/// Links each sign to the red flag that names its last day (`{day:<sign>}`), when that flag is
/// at least as urgent as the sign past its window: the flag then says all the sign would.
fn link_red_flags(protocol: &Protocol, plan: &mut Plan) {
    for (group, spec) in plan.red_flags.groups.iter().zip(protocol.red_flags()) {
        for (shown, item) in group.items.iter().zip(&spec.items) {
            for id in sign_day_refs(item) {
                let sign = plan.normal_signs.iter_mut().find(|s| s.id == id);
                if let Some(sign) = sign.filter(|s| group.urgency <= s.past_urgency) {
                    sign.red_flag = Some(shown.clone());
                }
            }
        }
    }
}

/// The plan's normal signs: the protocol's (those for its areas), then those of its add-ons and
/// considerations, each window stretched by the healing factor and lengthened, never shortened,
/// by an add-on or consideration.
fn normal_signs(protocol: &Protocol, r: &Resolved, applied: &Applied) -> Vec<NormalSign> {
    let band = &protocol.bands()[r.band].id;
    let treated = |spec: &NormalSignSpec| {
        spec.areas.is_empty() || r.areas.iter().any(|(a, _)| spec.areas.contains(&a.id))
    };
    protocol
        .normal_signs()
        .iter()
        .chain(applied.tailors.iter().flat_map(|t| &t.normal_signs))
        .filter(|spec| treated(spec))
        .map(|spec| {
            // Every band has a text and a day: checked when the protocol was loaded.
            let own = spec.last_day.get(band).copied().unwrap_or(1);
            let last_day = applied
                .tailors
                .iter()
                .filter_map(|t| t.normal_last_day.get(&spec.id).copied())
                .fold(stretch_days(own, r.healing_factor), u32::max);
            let day = last_day.to_string();
            NormalSign {
                id: spec.id.clone(),
                text: spec
                    .text
                    .get(band)
                    .cloned()
                    .unwrap_or_default()
                    .replace(DAY, &day),
                last_day,
                past_text: spec.past_text.replace(DAY, &day),
                past_urgency: spec.past_urgency,
                red_flag: None,
            }
        })
        .collect()
}

/// "4 to 6 weeks" when the window is in whole weeks, otherwise "30 to 45 days".
fn gap_text(from: u32, to: u32) -> String {
    if from.is_multiple_of(7) && to.is_multiple_of(7) {
        format!("{} to {} weeks", from / 7, to / 7)
    } else {
        format!("{from} to {to} days")
    }
}

fn phases(protocol: &Protocol, r: &Resolved, applied: &Applied) -> Vec<Phase> {
    let band = &protocol.bands()[r.band].id;
    let at = |hours: u32| at_hours(r, hours);
    protocol
        .phases()
        .iter()
        .map(|spec| {
            // Every phase and timed list has hours for every band: checked when loading.
            let [start, end] = spec.hours[band];
            // A timed list joins every phase that starts before it ends. A default end is a phase
            // boundary, so it covers whole phases; an adjusted one may end inside a phase, which
            // then carries it whole (the stricter reading), while the sheet and emails give the
            // exact end.
            let start_hours = stretch_hours(start, r.healing_factor);
            let timed = protocol
                .timed_avoid()
                .iter()
                .zip(&applied.timed_hours)
                .filter(|(_, &until)| start_hours < until)
                .flat_map(|(t, _)| t.items.iter().cloned());
            let joins: Vec<&Tailor> = applied
                .tailors
                .iter()
                .copied()
                .filter(|t| t.phases.contains(&spec.id))
                .collect();
            let added_do = joins.iter().flat_map(|t| t.do_items.iter().cloned());
            let added_avoid = joins.iter().flat_map(|t| t.avoid_items.iter().cloned());
            Phase {
                id: spec.id.clone(),
                name: spec.name.clone(),
                starts_at: at(start),
                ends_at: at(end),
                skin: spec.skin.clone(),
                do_items: replaced(protocol, r, &spec.id, &spec.do_items)
                    .into_iter()
                    .chain(added_do)
                    .collect(),
                avoid_items: replaced(protocol, r, &spec.id, &spec.avoid_items)
                    .into_iter()
                    .chain(timed)
                    .chain(added_avoid)
                    .collect(),
                headline: spec.headline.clone(),
            }
        })
        .collect()
}

fn actives(protocol: &Protocol, r: &Resolved, applied: &Applied) -> Vec<ActiveReturn> {
    protocol
        .actives()
        .iter()
        .zip(&applied.active_days)
        .map(|(a, &day)| ActiveReturn {
            key: active_key(&a.id),
            name: a.name.clone(),
            day,
            from: add_days(r.treated_date, day),
            how: a.how.clone(),
        })
        .collect()
}

/// One list (a phase's do or avoid list, or Tonight: `scope`) after the treated areas' own rules
/// (clinical review M2, M3): a line every treated area replaces becomes the area's line, or goes
/// when it has none; a line only some areas replace stays, followed by each area's own line under
/// its label ("Backs of the hands: …").
fn replaced(protocol: &Protocol, r: &Resolved, scope: &str, items: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in items {
        let per_area: Vec<Option<(&str, &str)>> = r
            .areas
            .iter()
            .map(|(area, _)| {
                let own = area.replaces.iter().map(|x| (area.label.as_str(), x));
                let class = protocol.class(&area.class);
                let of_class = class
                    .into_iter()
                    .flat_map(|c| c.replaces.iter().map(move |x| (c.label.as_str(), x)));
                own.chain(of_class)
                    .find(|(_, x)| x.phase == scope && &x.line == line)
                    .map(|(label, x)| (label, x.with.as_str()))
            })
            .collect();
        if per_area.iter().all(Option::is_none) {
            out.push(line.clone());
            continue;
        }
        let every = per_area.iter().all(Option::is_some);
        let mut withs: Vec<(&str, &str)> = Vec::new();
        for (label, with) in per_area.into_iter().flatten() {
            if !with.is_empty() && !withs.iter().any(|(_, w)| *w == with) {
                withs.push((label, with));
            }
        }
        if every && withs.len() <= 1 {
            out.extend(withs.iter().map(|(_, w)| w.to_string()));
        } else {
            if !every {
                out.push(line.clone());
            }
            out.extend(withs.iter().map(|(label, w)| format!("{label}: {w}")));
        }
    }
    out
}

fn area_notes(protocol: &Protocol, r: &Resolved) -> Vec<AreaNotes> {
    let mut notes = Vec::new();
    let mut classes_seen = Vec::new();
    for (area, _) in &r.areas {
        if let Some(class) = protocol.class(&area.class) {
            if !classes_seen.contains(&class.id) {
                classes_seen.push(class.id.clone());
                if !class.notes.is_empty() {
                    notes.push(AreaNotes {
                        label: class.label.clone(),
                        notes: class.notes.clone(),
                        last_day: class.notes_last_day,
                    });
                }
            }
        }
        if !area.notes.is_empty() {
            notes.push(AreaNotes {
                label: area.label.clone(),
                notes: area.notes.clone(),
                last_day: area.notes_last_day,
            });
        }
    }
    notes
}
