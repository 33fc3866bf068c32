//! What a line of text may hold: the rule forms apply to what people type and mail applies
//! to the headers it writes, so a value refused in one is refused in the other.

/// Unicode's bidirectional controls: they make text display in another order
/// than it is stored (a name that reads one way and sorts or matches another).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether a single-line value may hold `c`: no C0 or C1 control (so no
/// tab, CR or LF, which would break an email header) and no bidi control.
pub fn forbidden_in_line(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}
