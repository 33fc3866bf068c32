//! What every list entry of a protocol shares (an id, its texts, the sources it rests on),
//! checked in one place, and the walk over every entry that cites sources.

use std::collections::HashMap;

use crate::protocol::checks::{check_texts, entry_name, fail, Invalid};
use crate::protocol::types::*;

/// What every list entry shares, so ids, texts and sources are checked in one place.
pub(super) trait Entry {
    fn id(&self) -> &str;
    fn sources(&self) -> &[String];
    /// (field name, text) for every patient- or staff-facing text of the entry.
    fn texts(&self) -> Vec<(String, &str)>;
}

pub(super) fn list_texts<'a>(field: &str, items: &'a [String]) -> Vec<(String, &'a str)> {
    items
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("{field}[{i}]"), t.as_str()))
        .collect()
}

macro_rules! entry_impl {
    ($ty:ty, |$s:ident| $texts:expr) => {
        impl Entry for $ty {
            fn id(&self) -> &str {
                &self.id
            }
            fn sources(&self) -> &[String] {
                &self.sources
            }
            fn texts(&self) -> Vec<(String, &str)> {
                let $s = self;
                $texts
            }
        }
    };
}

entry_impl!(Band, |b| vec![("label".into(), b.label.as_str())]);
entry_impl!(AreaClass, |c| {
    let mut t = vec![("label".into(), c.label.as_str())];
    t.extend(list_texts("notes", &c.notes));
    t
});
entry_impl!(Area, |a| {
    let mut t = vec![("label".into(), a.label.as_str())];
    t.extend(list_texts("notes", &a.notes));
    t
});

entry_impl!(PhaseSpec, |p| {
    let mut t = vec![
        ("name".into(), p.name.as_str()),
        ("skin".into(), p.skin.as_str()),
        ("headline".into(), p.headline.as_str()),
    ];
    t.extend(list_texts("do", &p.do_items));
    t.extend(list_texts("avoid", &p.avoid_items));
    t
});
entry_impl!(Active, |a| vec![
    ("name".into(), a.name.as_str()),
    ("how".into(), a.how.as_str()),
    ("headline".into(), a.headline.as_str()),
]);
entry_impl!(TimedAvoid, |t| list_texts("items", &t.items));
entry_impl!(Tailor, |t| {
    let mut all = vec![("label".into(), t.label.as_str())];
    all.extend(list_texts("do", &t.do_items));
    all.extend(list_texts("avoid", &t.avoid_items));
    all.extend(list_texts("notes", &t.notes));
    all
});

impl Entry for Source {
    fn id(&self) -> &str {
        &self.id
    }
    /// A source rests on itself; its own id stands in so the shared check passes.
    fn sources(&self) -> &[String] {
        std::slice::from_ref(&self.id)
    }
    fn texts(&self) -> Vec<(String, &str)> {
        vec![("title".into(), self.title.as_str())]
    }
}

impl Entry for RedFlagGroupSpec {
    fn id(&self) -> &str {
        self.id.id()
    }
    fn sources(&self) -> &[String] {
        &self.sources
    }
    fn texts(&self) -> Vec<(String, &str)> {
        let mut t = vec![("title".into(), self.title.as_str())];
        t.extend(list_texts("items", &self.items));
        t
    }
}

impl Entry for NormalSignSpec {
    fn id(&self) -> &str {
        &self.id
    }
    fn sources(&self) -> &[String] {
        &self.sources
    }
    fn texts(&self) -> Vec<(String, &str)> {
        let mut t = vec![("past_text".into(), self.past_text.as_str())];
        match &self.text {
            ByBand::Same(text) => t.push(("text".into(), text.as_str())),
            ByBand::PerBand(m) => {
                t.extend(m.iter().map(|(b, v)| (format!("text.{b}"), v.as_str())))
            }
        }
        t
    }
}

/// Every entry that cites sources, named as in error messages, with the ids it cites. One walk
/// serves both the check that each id is declared and `protocol show --sources`.
pub(in crate::protocol) fn cited(f: &ProtocolFile) -> Vec<(String, &[String])> {
    fn list<'a, T: Entry>(name: &str, items: &'a [T]) -> Vec<(String, &'a [String])> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| (entry_name(name, i, item.id()), item.sources()))
            .collect()
    }
    let mut all = list("bands", &f.bands);
    all.extend(list("classes", &f.classes));
    all.extend(list("areas", &f.areas));
    all.push(("tonight".into(), &f.tonight.sources));
    all.extend(list("normal_signs", &f.normal_signs));
    all.extend(list("phases", &f.phases));
    all.extend(list("timed_avoid", &f.timed_avoid));
    all.extend(list("actives", &f.actives));
    all.extend(list("red_flags", &f.red_flags));
    all.push(("next_session".into(), &f.next_session.sources));
    all.push(("reminders".into(), &f.reminders.sources));
    all.extend(list("add_ons", &f.add_ons));
    all.extend(list("considerations", &f.considerations));
    all.extend(crate::protocol::decisions::cited(&f.decisions));
    for (name, tailors) in [
        ("add_ons", &f.add_ons),
        ("considerations", &f.considerations),
    ] {
        for (i, t) in tailors.iter().enumerate() {
            let owner = entry_name(name, i, &t.id);
            for (j, sign) in t.normal_signs.iter().enumerate() {
                all.push((
                    format!("{owner}: {}", entry_name("normal_signs", j, &sign.id)),
                    &sign.sources,
                ));
            }
        }
    }
    all
}

/// Ids, texts and sources of every entry of a list; returns each entry's name for later checks.
pub(super) fn check_list<T: Entry>(list: &str, items: &[T]) -> Result<Vec<String>, Invalid> {
    if items.is_empty() {
        return fail(list, "the list is empty");
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut names = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = entry_name(list, i, item.id());
        let id_ok = !item.id().is_empty()
            && item
                .id()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return fail(
                &name,
                "id must be lowercase letters, digits and '-', and not empty",
            );
        }
        if let Some(first) = seen.insert(item.id(), i) {
            return fail(
                &name,
                format!("duplicate id: {list}[{first}] already uses it"),
            );
        }
        check_texts(&name, item.texts(), item.sources())?;
        names.push(name);
    }
    Ok(names)
}
