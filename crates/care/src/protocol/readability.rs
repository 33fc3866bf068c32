//! Readability of the default protocol, measured so that it cannot drift: the Flesch–Kincaid
//! grade of every list of patient-facing text must stay at or below [`MAX_GRADE`].
//!
//! Flesch–Kincaid grade = 0.39 × words per sentence + 11.8 × syllables per word − 15.59. Syllables
//! come from a small rule-based counter (vowel groups, less a silent final e, -ed or -es), which is
//! close enough on plain English to keep a list honest; list items without a full stop still
//! count as one sentence each.

use super::*;

/// A reading age of about 11–12: the facts digest asks for plain text a patient reads at once.
const MAX_GRADE: f64 = 6.0;

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
}

/// Syllables in one word. Acronyms ("SPF", "AHA") are read letter by letter; a number is one.
fn syllables(word: &str) -> usize {
    let letters: String = word.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.is_empty() {
        return usize::from(word.chars().any(|c| c.is_ascii_digit()));
    }
    if letters.len() >= 2 && letters.chars().all(|c| c.is_uppercase()) {
        return letters.len();
    }
    let w = letters.to_lowercase();
    let chars: Vec<char> = w.chars().collect();
    let mut groups = 0;
    let mut previous_vowel = false;
    for &c in &chars {
        let vowel = is_vowel(c);
        if vowel && !previous_vowel {
            groups += 1;
        }
        previous_vowel = vowel;
    }
    let n = chars.len();
    let before = |k: usize| n.checked_sub(k).map(|i| chars[i]);
    let silent = match (before(3), before(2), before(1)) {
        // "make", "rinse", but not "gentle", "free" or "the".
        (_, Some(p), Some('e')) => p != 'l' && p != 'e' && n > 3,
        // "prescribed", "rubbed", but not "faded" or "treated".
        (_, Some('e'), Some('d')) => !matches!(before(3), Some('t' | 'd')),
        // "makes", "flakes", but not "patches", "places" or "rinses".
        (Some(p), Some('e'), Some('s')) => !matches!(p, 's' | 'x' | 'z' | 'h' | 'c' | 'g'),
        _ => false,
    };
    (groups - usize::from(silent && groups > 1)).max(1)
}

/// (words, sentences, syllables) of a list of texts.
fn counts(texts: &[String]) -> (usize, usize, usize) {
    let (mut words, mut sentences, mut syllable_total) = (0, 0, 0);
    for text in texts {
        let item_words: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || c == '/')
            .filter(|w| w.chars().any(|c| c.is_alphanumeric()))
            .collect();
        words += item_words.len();
        syllable_total += item_words.iter().map(|w| syllables(w)).sum::<usize>();
        let ends = text
            .split_whitespace()
            .filter(|w| w.ends_with(['.', '!', '?']))
            .count();
        sentences += ends.max(1);
    }
    (words, sentences, syllable_total)
}

fn grade(texts: &[String]) -> f64 {
    let (words, sentences, syllable_total) = counts(texts);
    if words == 0 {
        return 0.0;
    }
    0.39 * words as f64 / sentences as f64 + 11.8 * syllable_total as f64 / words as f64 - 15.59
}

/// Every patient-facing text of a protocol, as the lists a patient reads them in, with the
/// placeholders filled the way a plan or an email fills them.
fn patient_lists(p: &Protocol) -> Vec<(String, Vec<String>)> {
    let fill = |t: &str| {
        t.replace(EMERGENCY_NUMBER, "999")
            .replace(GAP, "4 to 6 weeks")
            .replace("{day}", "2")
            .replace("{day:redness}", "2")
            .replace("{headline}", "gentle cleansing and SPF")
    };
    let own = |items: &[String]| items.iter().map(|t| fill(t)).collect::<Vec<_>>();
    let mut lists = vec![
        ("disclaimer".to_string(), vec![p.disclaimer().to_string()]),
        ("tonight".into(), own(&p.tonight().items)),
        (
            "normal".into(),
            p.normal_signs()
                .iter()
                .chain(p.add_ons().iter().flat_map(|t| &t.normal_signs))
                .chain(p.considerations().iter().flat_map(|t| &t.normal_signs))
                .flat_map(|s| {
                    let texts = match &s.text {
                        ByBand::Same(t) => vec![t.clone()],
                        ByBand::PerBand(m) => m.values().cloned().collect(),
                    };
                    texts.into_iter().chain([s.past_text.clone()])
                })
                .map(|t| fill(&t))
                .collect(),
        ),
        (
            "band labels".into(),
            p.bands().iter().map(|b| b.label.clone()).collect(),
        ),
        (
            "area labels".into(),
            p.areas().iter().map(|a| a.label.clone()).collect(),
        ),
        (
            // What heads an add-on's or a consideration's notes for the patient.
            "add-on and consideration headings".into(),
            p.add_ons()
                .iter()
                .chain(p.considerations())
                .map(|t| t.patient_label.clone().unwrap_or_else(|| t.label.clone()))
                .collect(),
        ),
        (
            "phase names and headlines".into(),
            p.phases()
                .iter()
                .flat_map(|ph| [ph.name.clone(), ph.headline.clone()])
                .collect(),
        ),
        (
            "what the skin does".into(),
            p.phases().iter().map(|ph| ph.skin.clone()).collect(),
        ),
        (
            "actives".into(),
            p.actives()
                .iter()
                .flat_map(|a| [a.name.clone(), a.how.clone(), a.headline.clone()])
                .collect(),
        ),
        (
            "next session".into(),
            vec![
                fill(&p.next_session().note),
                p.next_session().headline.clone(),
            ],
        ),
        (
            "email subjects".into(),
            vec![
                p.reminders().evening_subject.clone(),
                fill(&p.reminders().day_subject),
            ],
        ),
    ];
    for ph in p.phases() {
        lists.push((format!("phases \"{}\" do", ph.id), own(&ph.do_items)));
        lists.push((format!("phases \"{}\" avoid", ph.id), own(&ph.avoid_items)));
    }
    for t in p.timed_avoid() {
        lists.push((format!("timed_avoid \"{}\"", t.id), own(&t.items)));
    }
    for c in p.classes().iter().filter(|c| !c.notes.is_empty()) {
        lists.push((format!("classes \"{}\" notes", c.id), own(&c.notes)));
    }
    for a in p.areas().iter().filter(|a| !a.notes.is_empty()) {
        lists.push((format!("areas \"{}\" notes", a.id), own(&a.notes)));
    }
    // Add-ons and considerations: every text a patient reads, as one list each.
    for (kind, list) in [
        ("add_ons", p.add_ons()),
        ("considerations", p.considerations()),
    ] {
        for t in list {
            let texts: Vec<String> = [&t.do_items, &t.avoid_items, &t.notes]
                .into_iter()
                .flat_map(|l| own(l))
                .collect();
            lists.push((format!("{kind} \"{}\"", t.id), texts));
        }
    }
    for g in p.red_flags() {
        let mut texts = vec![fill(&g.title)];
        texts.extend(own(&g.items));
        lists.push((format!("red_flags \"{}\"", g.id.id()), texts));
    }
    lists
}

#[test]
fn the_syllable_counter_follows_its_rules() {
    let cases = [
        ("skin", 1),
        ("water", 2),
        ("sunscreen", 2),
        ("make", 1),
        ("makes", 1),
        ("gentle", 2),
        ("free", 1),
        ("prescribed", 2),
        ("treated", 2),
        ("patches", 2),
        ("retinoids", 3),
        ("SPF", 3),
        ("30", 1),
        ("the", 1),
        ("moisturiser", 4),
    ];
    for (word, expected) in cases {
        assert_eq!(syllables(word), expected, "{word}");
    }
}

#[test]
fn the_grade_rises_with_long_words_and_long_sentences() {
    let plain = vec!["Wash your face. Pat it dry.".to_string()];
    let hard = vec![
        "Exfoliating preparations containing hydroxy acids necessitate considerable \
         circumspection immediately following percutaneous collagen induction procedures."
            .to_string(),
    ];
    assert!(grade(&plain) < 2.0, "{}", grade(&plain));
    assert!(grade(&hard) > MAX_GRADE, "{}", grade(&hard));
}

#[test]
fn every_list_of_the_default_protocol_reads_at_grade_6_or_below() {
    let lists = patient_lists(&Protocol::default_protocol());
    let too_hard: Vec<String> = lists
        .iter()
        .map(|(name, texts)| (name, grade(texts)))
        .filter(|(_, g)| *g > MAX_GRADE)
        .map(|(name, g)| format!("{name}: grade {g:.1}"))
        .collect();
    assert!(
        too_hard.is_empty(),
        "these lists read above grade {MAX_GRADE}; use shorter words and sentences:\n{}",
        too_hard.join("\n")
    );
    // Every text is measured: nothing patient-facing may slip out of the lists above.
    assert!(lists.len() > 25, "{} lists", lists.len());
}
