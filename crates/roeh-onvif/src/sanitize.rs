//! Cleaning of device-supplied text (manufacturer, model, names, scopes, fault reasons).
//!
//! Invariant: the output has no control characters, no bidirectional-override or zero-width
//! formatting characters, no leading or trailing whitespace, and at most
//! [`MAX_DEVICE_STRING_CHARS`] characters. It is *not* HTML-escaped: that is the UI's job.

/// Longest device-supplied string kept, in characters.
pub const MAX_DEVICE_STRING_CHARS: usize = 128;

fn is_format_char(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Cleans and caps a device-supplied string.
pub(crate) fn device_string(s: &str) -> String {
    clean(s, MAX_DEVICE_STRING_CHARS)
}

/// Cleans and caps to `max` characters. Control characters become spaces, runs of whitespace
/// collapse to one space.
pub(crate) fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut count = 0;
    let mut pending_space = false;
    for c in s.chars() {
        if is_format_char(c) {
            continue;
        }
        if c.is_control() || c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            if count + 1 >= max {
                break;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count >= max {
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_and_caps() {
        assert_eq!(device_string("  Acme\r\n\tCam\u{0}  "), "Acme Cam");
        assert_eq!(device_string("evil\u{202E}txt.exe"), "eviltxt.exe");
        assert_eq!(
            device_string(&"x".repeat(1000)).chars().count(),
            MAX_DEVICE_STRING_CHARS
        );
        assert_eq!(
            device_string("<script>alert(1)</script>"),
            "<script>alert(1)</script>"
        );
        assert_eq!(device_string(""), "");
    }
}
