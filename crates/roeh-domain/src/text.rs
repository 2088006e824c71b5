//! Text from people and devices made safe to store and show ([`clean`]: control characters,
//! line and paragraph separators and bidirectional overrides replaced, length bounded) and to
//! put into XML ([`xml_escape`]).

/// Whether `c` may not appear in a stored or shown field as itself: control characters, the
/// line and paragraph separators, and the bidirectional marks and overrides (which could make
/// a log line or a label read differently than it is stored).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `s` with unsafe characters replaced by U+FFFD and cut to `max` characters.
pub fn clean(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if is_unsafe(c) { '\u{fffd}' } else { c })
        .collect()
}

/// `s` for XML element content or a quoted attribute: markup characters escaped, control
/// characters (which XML 1.0 cannot carry) dropped.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}
