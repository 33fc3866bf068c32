//! Property tests: random treatments, zones, dates and send hours against the plan's guarantees.
//!
//! Expected send times come from an oracle written independently of `schedule.rs`: it finds the
//! end of a daylight-saving gap by scanning UTC minutes instead of stepping local ones.

use std::sync::OnceLock;

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;

const ZONES: &[&str] = &[
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "UTC",
];

fn area_ids() -> Vec<String> {
    Protocol::default_protocol()
        .areas()
        .iter()
        .map(|a| a.id.clone())
        .collect()
}

/// Local wall time, 2020–2035, any minute.
fn local_time() -> impl Strategy<Value = NaiveDateTime> {
    (2020i32..=2035, 1u32..=365, 0u32..24, 0u32..60).prop_map(|(y, ordinal, h, m)| {
        NaiveDate::from_yo_opt(y, ordinal)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .expect("valid date")
    })
}

/// 1–4 distinct areas, each with a depth in 0.1–3.0 mm.
fn treated_areas() -> impl Strategy<Value = Vec<TreatedArea>> {
    (
        proptest::sample::subsequence(area_ids(), 1..=4).prop_shuffle(),
        proptest::collection::vec(0.1f64..=3.0, 4),
    )
        .prop_map(|(ids, depths)| {
            ids.into_iter()
                .zip(depths)
                .map(|(area_id, depth_mm)| TreatedArea { area_id, depth_mm })
                .collect()
        })
}

fn treatment() -> impl Strategy<Value = TreatmentInput> {
    (
        treated_areas(),
        local_time(),
        proptest::sample::select(ZONES),
        0u32..24,
    )
        .prop_map(|(areas, treated_at, zone, send_hour)| TreatmentInput {
            tailoring: Default::default(),
            areas,
            treated_at,
            time_zone: zone.to_string(),
            send_hour,
        })
}

fn tz_of(input: &TreatmentInput) -> Tz {
    input.time_zone.parse().unwrap()
}

fn local_of(tz: Tz, utc: DateTime<Utc>) -> NaiveDateTime {
    utc.with_timezone(&tz).naive_local()
}

/// The instant an email for `hour`:00 on `date` must go out: the time itself, the earlier of a
/// repeated time, or for a skipped time the first instant whose clock reading is past it.
fn oracle(tz: Tz, date: NaiveDate, hour: u32) -> DateTime<Utc> {
    let target = date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap());
    match tz.from_local_datetime(&target) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            let start = target.and_utc() - Duration::hours(15);
            (0..30 * 60)
                .map(|m| start + Duration::minutes(m))
                .find(|u| local_of(tz, *u) >= target)
                .expect("the gap ends within a day")
        }
    }
}

/// Plans for inputs whose treatment time exists; a skipped one must be refused as such.
fn plan_or_skip(input: &TreatmentInput) -> Option<Plan> {
    match compute_plan(&Protocol::default_protocol(), input) {
        Ok(plan) => Some(plan),
        Err(e) => {
            assert_eq!(e.field(), "treated_at", "{e}");
            let tz = tz_of(input);
            assert!(tz
                .from_local_datetime(&input.treated_at)
                .earliest()
                .is_none());
            None
        }
    }
}

/// Every date in the plan that can only move later when a treatment is deeper or larger.
fn milestones(plan: &Plan) -> Vec<(String, DateTime<Utc>)> {
    let mut all: Vec<(String, DateTime<Utc>)> = plan
        .phases
        .iter()
        .map(|p| (format!("end of {}", p.id), p.ends_at.utc))
        .collect();
    all.push(("healed_by".into(), plan.healed_by.utc));
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap().and_utc();
    all.extend(
        plan.actives
            .iter()
            .map(|a| (a.key.clone(), midnight(a.from))),
    );
    all.push(("next session".into(), midnight(plan.next_session.from)));
    all.push(("last email".into(), plan.reminders.last().unwrap().send_at));
    all
}

fn assert_never_sooner(before: &Plan, after: &Plan) {
    for ((what, earlier), (_, later)) in milestones(before).into_iter().zip(milestones(after)) {
        assert!(later >= earlier, "{what} moved from {earlier} to {later}");
    }
}

/// The guarantees every plan keeps: contiguous phases covering every email, and emails in order,
/// unique, after the treatment, at the send hour by the DST rule, announcing every milestone.
fn check_plan(input: &TreatmentInput) -> Result<(), TestCaseError> {
    let Some(plan) = plan_or_skip(input) else {
        return Ok(());
    };
    let tz = tz_of(input);
    prop_assert_eq!(plan.phases[0].starts_at, plan.treated_at);
    for pair in plan.phases.windows(2) {
        prop_assert_eq!(pair[0].ends_at, pair[1].starts_at);
    }
    for phase in &plan.phases {
        prop_assert!(phase.starts_at.utc < phase.ends_at.utc);
        prop_assert_eq!(phase.ends_at.local, local_of(tz, phase.ends_at.utc));
    }
    let end = plan.phases.last().unwrap().ends_at;
    prop_assert!(plan.reminders.iter().all(|r| r.send_at < end.utc));
    prop_assert!(plan.actives.iter().all(|a| a.from < end.local.date()));
    prop_assert!(plan.next_session.from < end.local.date());
    prop_assert!(plan.healed_by.utc > plan.treated_at.utc && plan.healed_by.utc < end.utc);

    let treated = plan.treated_at;
    let cadence = Protocol::default_protocol().reminders().clone();
    for pair in plan.reminders.windows(2) {
        prop_assert!(
            pair[0].send_at < pair[1].send_at,
            "not in order or not unique"
        );
    }
    let mut keys: Vec<&str> = plan.reminders.iter().map(|r| r.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    prop_assert_eq!(keys.len(), plan.reminders.len(), "duplicate keys");

    let (evening, rest) = plan.reminders.split_first().unwrap();
    prop_assert_eq!(evening.kind, ReminderKind::Evening);
    let floor = oracle(
        tz,
        treated.local.date(),
        cadence.evening_not_before_hour.unwrap(),
    );
    let after_delay = treated.utc + Duration::hours(cadence.evening_delay_hours.into());
    prop_assert_eq!(evening.send_at, after_delay.max(floor));
    for reminder in &plan.reminders {
        prop_assert!(reminder.send_at > treated.utc);
        prop_assert_eq!(
            &plan.email_phase(reminder.send_at).unwrap().id,
            &reminder.phase_id
        );
    }
    for reminder in rest {
        prop_assert!(reminder.kind != ReminderKind::Evening);
        let date = treated.local.date() + chrono::Days::new(reminder.day.into());
        prop_assert_eq!(
            reminder.send_at,
            oracle(tz, date, input.send_hour),
            "{}",
            reminder.key
        );
    }
    // Every milestone is announced, exactly once.
    let mut announced: Vec<&str> = rest
        .iter()
        .flat_map(|r| r.milestones.iter().map(String::as_str))
        .collect();
    announced.sort_unstable();
    let mut expected: Vec<&str> = plan.actives.iter().map(|a| a.key.as_str()).collect();
    expected.extend(["results", "next-session"]);
    expected.sort_unstable();
    prop_assert_eq!(announced, expected);
    check_version_2_rules(input, &plan)
}

/// The clinical review's rules, for any plan: actives a week apart, timed avoid lists over
/// exactly the phases before their end, and each email saying what is true when it is sent.
fn check_version_2_rules(input: &TreatmentInput, plan: &Plan) -> Result<(), TestCaseError> {
    let protocol = Protocol::default_protocol();
    let mut dates: Vec<NaiveDate> = plan.actives.iter().map(|a| a.from).collect();
    dates.sort_unstable();
    for pair in dates.windows(2) {
        prop_assert!(
            (pair[1] - pair[0]).num_days() >= 7,
            "actives {:?} are less than a week apart",
            pair
        );
    }

    let factor = input
        .areas
        .iter()
        .filter_map(|a| protocol.area(&a.area_id))
        .filter_map(|a| protocol.class(&a.class))
        .map(|c| c.healing_factor)
        .fold(1.0, f64::max);
    let treated = plan.treated_at.utc;
    prop_assert_eq!(plan.avoid_until.len(), protocol.timed_avoid().len());
    for (timed, shown) in protocol.timed_avoid().iter().zip(&plan.avoid_until) {
        // A tailored plan names each restriction it changed, with its final (stretched) hours.
        let hours = match plan.adjusted.iter().find(|a| a.items == timed.items) {
            Some(adjusted) => f64::from(adjusted.value),
            None => f64::from(timed.until_hours[&plan.band.id]) * factor,
        };
        let until = treated + Duration::hours(hours.round() as i64);
        prop_assert_eq!(shown.until.utc, until);
        prop_assert_eq!(&shown.items, &timed.items);
        for phase in &plan.phases {
            let listed = timed.items.iter().all(|i| phase.avoid_items.contains(i));
            prop_assert_eq!(
                listed,
                phase.starts_at.utc < until,
                "{} in {}",
                timed.id,
                phase.id
            );
        }
    }

    for (i, reminder) in plan.reminders.iter().enumerate() {
        let content = plan.email_content(&reminder.key, reminder.send_at);
        // The phase in force: the last to have started by the send time, counted in the hours
        // the clinic's clock shows since the treatment (24 a day even across a clock change,
        // so each whole-day phase gets its morning email).
        let send_local = local_of(tz_of(input), reminder.send_at);
        let clock_hours = send_local - plan.treated_at.local;
        let in_force = plan
            .phases
            .iter()
            .rev()
            .find(|p| p.starts_at.utc - plan.treated_at.utc <= clock_hours)
            .unwrap();
        prop_assert_eq!(content.phase, Some(in_force), "{}", reminder.key);
        let spec = protocol
            .phases()
            .iter()
            .find(|s| s.id == in_force.id)
            .unwrap();
        // Add-ons and considerations only append to a phase's list; an area's own rule may
        // replace a line (hands, scalp, body), so only plans without one compare the lines.
        let replaces = |scope: &str| {
            plan.areas.iter().any(|a| {
                let area = protocol.area(&a.id).unwrap();
                let class = protocol.class(&area.class).unwrap();
                area.replaces
                    .iter()
                    .chain(&class.replaces)
                    .any(|r| r.phase == scope)
            })
        };
        if !replaces(&spec.id) {
            prop_assert!(in_force.do_items.starts_with(&spec.do_items));
            prop_assert!(in_force.do_items[spec.do_items.len()..]
                .iter()
                .all(|i| plan.added_items.contains(i)));
            prop_assert!(in_force.avoid_items.starts_with(&spec.avoid_items));
        }
        if reminder.kind == ReminderKind::Evening {
            prop_assert_eq!(content.tonight, plan.tonight.as_slice());
            if !replaces("tonight") {
                prop_assert_eq!(content.tonight, protocol.tonight().items.as_slice());
            }
        } else {
            prop_assert!(content.tonight.is_empty(), "{}", reminder.key);
        }
        // "What is normal" holds exactly the signs still in their window on the email's day.
        let expected: Vec<String> = plan
            .normal_signs
            .iter()
            .filter(|s| reminder.day <= s.last_day)
            .map(|s| s.text.clone())
            .collect();
        prop_assert_eq!(&content.normal, &expected, "{}", reminder.key);
        let _ = i;
    }
    Ok(())
}

/// Every daylight-saving change of the DST zones in 2020–2035, as UTC instants.
fn dst_changes() -> &'static [(Tz, DateTime<Utc>)] {
    static CHANGES: OnceLock<Vec<(Tz, DateTime<Utc>)>> = OnceLock::new();
    CHANGES.get_or_init(|| {
        let offset = |tz: Tz, at: DateTime<Utc>| tz.offset_from_utc_datetime(&at.naive_utc()).fix();
        let mut changes = Vec::new();
        for zone in [
            "Europe/London",
            "America/New_York",
            "Australia/Lord_Howe",
            "Pacific/Chatham",
        ] {
            let tz: Tz = zone.parse().unwrap();
            let mut at = NaiveDate::from_ymd_opt(2020, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc();
            let stop = NaiveDate::from_ymd_opt(2036, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc();
            // Changes happen on a quarter hour: step by a day, then find the minute.
            while at < stop {
                let next = at + Duration::days(1);
                if offset(tz, at) != offset(tz, next) {
                    let mut t = at;
                    while offset(tz, t) == offset(tz, at) {
                        t += Duration::minutes(15);
                    }
                    changes.push((tz, t));
                }
                at = next;
            }
        }
        changes
    })
}

/// Treatments up to two weeks before a DST change, with a send hour in (or next to) the skipped
/// or repeated hour, so the DST rule is exercised in most cases rather than by chance.
fn treatment_near_dst() -> impl Strategy<Value = TreatmentInput> {
    (
        proptest::sample::select(dst_changes()),
        treated_areas(),
        0i64..14 * 24 * 60,
        0usize..3,
    )
        .prop_map(|((tz, change), areas, minutes_before, pick)| {
            let before = local_of(tz, change - Duration::seconds(1));
            let after = local_of(tz, change);
            let hours = [before.hour(), (before.hour() + 1) % 24, after.hour()];
            TreatmentInput {
                tailoring: Default::default(),
                areas,
                treated_at: local_of(tz, change - Duration::minutes(minutes_before)),
                time_zone: tz.name().to_string(),
                send_hour: hours[pick],
            }
        })
}

proptest! {
    #[test]
    fn plans_keep_their_guarantees(input in treatment()) {
        check_plan(&input)?;
    }

    #[test]
    fn plans_keep_their_guarantees_across_dst_changes(input in treatment_near_dst()) {
        check_plan(&input)?;
    }

    #[test]
    fn deeper_never_heals_sooner_nor_gets_actives_back_sooner(
        input in treatment(),
        extra in proptest::collection::vec(0.0f64..=2.9, 4),
    ) {
        let Some(plan) = plan_or_skip(&input) else { return Ok(()) };
        let mut deeper = input.clone();
        for (area, more) in deeper.areas.iter_mut().zip(extra) {
            area.depth_mm = (area.depth_mm + more).min(3.0);
        }
        let deeper_plan = plan_or_skip(&deeper).unwrap();
        assert_never_sooner(&plan, &deeper_plan);
    }

    #[test]
    fn adding_an_area_never_shortens_the_plan(
        input in treatment(),
        new_area in proptest::sample::select(area_ids()),
        depth in 0.1f64..=3.0,
    ) {
        prop_assume!(!input.areas.iter().any(|a| a.area_id == new_area));
        let Some(plan) = plan_or_skip(&input) else { return Ok(()) };
        let mut larger = input.clone();
        larger.areas.push(TreatedArea { area_id: new_area, depth_mm: depth });
        let larger_plan = plan_or_skip(&larger).unwrap();
        assert_never_sooner(&plan, &larger_plan);
    }

    #[test]
    fn same_input_gives_the_same_plan(input in treatment()) {
        let protocol = Protocol::default_protocol();
        prop_assert_eq!(compute_plan(&protocol, &input), compute_plan(&protocol, &input.clone()));
    }

    #[test]
    fn any_input_gives_a_plan_or_an_error_never_a_panic(
        ids in proptest::collection::vec(
            prop_oneof![proptest::sample::select(area_ids()), ".{0,12}"], 0..5),
        depths in proptest::collection::vec(prop_oneof![0.1f64..=3.0, any::<f64>()], 5),
        treated_at in prop_oneof![
            local_time(),
            any::<i64>().prop_map(|s| DateTime::from_timestamp(s % 400_000_000_000, 0)
                .map(|t| t.naive_utc())
                .unwrap_or_default()),
        ],
        zone in prop_oneof![proptest::sample::select(ZONES).prop_map(String::from), ".{0,20}"],
        send_hour in any::<u32>(),
    ) {
        let input = TreatmentInput {
            tailoring: Default::default(),
            areas: ids.into_iter().zip(depths).map(|(area_id, depth_mm)| TreatedArea { area_id, depth_mm }).collect(),
            treated_at,
            time_zone: zone,
            send_hour,
        };
        if let Err(e) = compute_plan(&Protocol::default_protocol(), &input) {
            prop_assert!(!e.field().is_empty());
        }
    }
}

/// Random tailoring: any subset of add-ons and considerations, and adjustments anywhere in a
/// wide span (out-of-range ones must be refused, never applied).
fn tailoring() -> impl Strategy<Value = Tailoring> {
    let p = Protocol::default_protocol();
    let add_ons: Vec<String> = p.add_ons().iter().map(|t| t.id.clone()).collect();
    let considerations: Vec<String> = p.considerations().iter().map(|t| t.id.clone()).collect();
    let keys: Vec<String> = p
        .timed_avoid()
        .iter()
        .map(|t| t.id.clone())
        .chain(p.actives().iter().map(|a| format!("active-{}", a.id)))
        .collect();
    (
        proptest::sample::subsequence(add_ons.clone(), 0..=add_ons.len()),
        proptest::sample::subsequence(considerations.clone(), 0..=considerations.len()),
        proptest::collection::btree_map(proptest::sample::select(keys), 0u32..400, 0..3),
    )
        .prop_map(|(add_ons, considerations, adjustments)| Tailoring {
            adjustments,
            add_ons,
            considerations,
            patient_note: String::new(),
        })
}

/// Every restriction's length in a plan: timed ends in hours after the treatment, active days.
fn lengths(plan: &Plan) -> (Vec<i64>, Vec<u32>) {
    let hours = plan
        .avoid_until
        .iter()
        .map(|a| (a.until.utc - plan.treated_at.utc).num_hours())
        .collect();
    (hours, plan.actives.iter().map(|a| a.day).collect())
}

proptest! {
    #[test]
    fn tailoring_never_shortens_below_the_protocols_minimum_and_keeps_dates_ordered(
        base in treatment(),
        tailoring in tailoring(),
    ) {
        let p = Protocol::default_protocol();
        // A time the clocks skip is refused for every plan, tailored or not.
        let Some(untailored) = plan_or_skip(&base) else { return Ok(()) };
        let input = TreatmentInput { tailoring: tailoring.clone(), ..base.clone() };
        let Ok(plan) = compute_plan(&p, &input) else {
            // Refused only for an adjustment: add-ons and considerations are always valid.
            prop_assert!(!tailoring.adjustments.is_empty());
            return Ok(());
        };
        // Adjusted or not, the plan keeps every guarantee (ordered, contiguous phases; emails
        // in order and inside the phases).
        check_plan(&input)?;
        // Review L2: prescription retinoids come back a week after shop retinol at the earliest.
        let day = |key: &str| plan.actives.iter().find(|a| a.key == key).map(|a| a.day);
        if let (Some(shop), Some(prescribed)) =
            (day("active-retinol"), day("active-prescription-retinoids"))
        {
            prop_assert!(prescribed >= shop + 7, "retinol {shop}, prescription {prescribed}");
        }
        let (hours, days) = lengths(&plan);
        let (base_hours, base_days) = lengths(&untailored);
        let band = &plan.band.id;
        for ((t, h), b) in p.timed_avoid().iter().zip(&hours).zip(&base_hours) {
            // Never below the range's minimum (stretched like the default, so at least min).
            let [min, _] = t.adjust[band];
            prop_assert!(*h >= i64::from(min), "{} ends at {h} h, under {min}", t.id);
            if !tailoring.adjustments.contains_key(&t.id) {
                // Add-ons and considerations alone never shorten anything.
                prop_assert!(h >= b, "{} shortened from {b} to {h}", t.id);
            }
        }
        for ((a, d), b) in p.actives().iter().zip(&days).zip(&base_days) {
            let key = format!("active-{}", a.id);
            if tailoring.adjustments.contains_key(&key) {
                let lowest = a.adjust.values().map(|[min, _]| *min).min().unwrap_or(0);
                prop_assert!(*d >= lowest, "{key} on day {d}, under {lowest}");
            } else {
                prop_assert!(d >= b, "{key} came back sooner: {b} → {d}");
            }
        }
    }

    #[test]
    fn considerations_never_shorten_anything(
        base in treatment(),
        considerations in proptest::sample::subsequence(
            vec!["darker-skin".to_string(), "cold-sores".to_string()], 0..=2),
    ) {
        let p = Protocol::default_protocol();
        // A time the clocks skip is refused for every plan, tailored or not.
        let Some(untailored) = plan_or_skip(&base) else { return Ok(()) };
        let input = TreatmentInput {
            tailoring: Tailoring { considerations, ..Tailoring::default() },
            ..base
        };
        let plan = compute_plan(&p, &input).unwrap();
        let (hours, days) = lengths(&plan);
        let (base_hours, base_days) = lengths(&untailored);
        prop_assert!(hours.iter().zip(&base_hours).all(|(h, b)| h >= b));
        prop_assert!(days.iter().zip(&base_days).all(|(d, b)| d >= b));
        for (t, b) in plan.phases.iter().zip(&untailored.phases) {
            prop_assert_eq!((t.starts_at, t.ends_at), (b.starts_at, b.ends_at));
            prop_assert!(b.avoid_items.iter().all(|i| t.avoid_items.contains(i)));
        }
    }
}

/// Tailoring that moves actives late: each active's day anywhere up to a little past the widest
/// range, with any add-ons and considerations, so the week between actives is often at work.
fn late_actives() -> impl Strategy<Value = Tailoring> {
    let p = Protocol::default_protocol();
    let keys: Vec<String> = p
        .actives()
        .iter()
        .filter(|a| !a.adjust.is_empty())
        .map(|a| format!("active-{}", a.id))
        .collect();
    (
        tailoring(),
        proptest::collection::btree_map(proptest::sample::select(keys), 0u32..40, 1..4),
    )
        .prop_map(|(mut t, actives)| {
            t.adjustments = actives;
            t
        })
}

proptest! {
    #[test]
    fn spacing_actives_never_sends_an_email_after_the_plan_ends(
        base in treatment(),
        tailoring in late_actives(),
    ) {
        let input = TreatmentInput { tailoring, ..base };
        match compute_plan(&Protocol::default_protocol(), &input) {
            // Every email inside the phases, actives a week apart, and the rest of the guarantees.
            Ok(_) => check_plan(&input)?,
            Err(PlanError::AdjustmentOutOfRange { .. } | PlanError::ActivesPastPlanEnd { .. }) => {}
            // A time the clocks skip is refused for every plan, tailored or not.
            Err(PlanError::TreatedAtSkipped { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected refusal: {e}"),
        }
    }
}
