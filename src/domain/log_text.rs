//! Text from outside (message ids, subjects, field values, error texts that quote them) made safe for one log line:
//! control characters escaped, so a newline in an `eventType` or a `Subject` cannot forge a log line, and cut to
//! [`MAX_LOG_TEXT_CHARS`], so a 10 MiB field cannot make a 10 MiB log line.

/// The most characters of one outside value written to a log line.
pub const MAX_LOG_TEXT_CHARS: usize = 256;

/// `text` escaped (`\n`, `\r`, `\t`, `\u{…}` for other control characters) and cut to [`MAX_LOG_TEXT_CHARS`]
/// characters, with `…(N bytes)` when cut.
pub fn for_log(text: &str) -> String {
    let mut safe = String::with_capacity(text.len().min(MAX_LOG_TEXT_CHARS + 16));
    for (count, character) in text.chars().enumerate() {
        if count == MAX_LOG_TEXT_CHARS {
            safe.push_str(&format!("…({} bytes)", text.len()));
            break;
        }
        if character.is_control() {
            safe.extend(character.escape_default());
        } else {
            safe.push(character);
        }
    }
    safe
}

/// Whether `text` may be quoted in a validation message as it is: a short token of letters, digits, `.`, `_`
/// and `-` (an event type, a condition, a currency code), which cannot carry an email, a name or a log line.
pub fn is_quotable_token(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 40
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_so_no_line_can_be_forged() {
        assert_eq!(
            for_log("Bogus\nINFO handler: forged\r\t\u{1b}[31m"),
            "Bogus\\nINFO handler: forged\\r\\t\\u{1b}[31m"
        );
        assert_eq!(for_log("RET-1 é €"), "RET-1 é €");
    }

    #[test]
    fn long_values_are_cut_and_say_how_long_they_were() {
        let long = "x".repeat(10 * 1024 * 1024);
        let safe = for_log(&long);
        assert_eq!(safe, format!("{}…(10485760 bytes)", "x".repeat(MAX_LOG_TEXT_CHARS)));
    }

    #[test]
    fn only_short_tokens_are_quotable() {
        assert!(
            is_quotable_token("ReturnShipped") && is_quotable_token("eur") && is_quotable_token("returns.booked.v2")
        );
        for text in [
            "jane@example.com",
            "Jane Doe",
            "01/03/2025 10:15",
            "",
            "a\nb",
            &"x".repeat(41),
        ] {
            assert!(!is_quotable_token(text), "{text:?}");
        }
    }
}
