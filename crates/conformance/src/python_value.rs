//! JSON values rendered the way Python's `str()` prints what `json.loads` returns.
//!
//! The Python `boom` activity fails with `f"boom:{x}"`, so our `boom` must print a decoded JSON value exactly as
//! CPython would: `None`/`True`/`False`, `repr` of strings inside containers (`'it'`, `"it's"`), `", "` and
//! `": "` separators, dictionaries in the order their keys appear in the JSON text, and floats in Python's
//! shortest-repr notation (`1e+16`, `1.5e-05`). [`PythonValue`] keeps that key order, which `serde_json::Value`
//! (without the `preserve_order` feature) does not.
//!
//! Limits: integers outside the 64-bit range and non-ASCII characters that Python considers unprintable (other
//! than the C1 controls, U+00A0 and U+00AD, which are handled) are not rendered as CPython would.

use std::fmt::{self, Write as _};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A decoded JSON value that remembers the order of object keys, displayed as Python's `str()` would print it.
///
/// ```
/// use durabletask_conformance::PythonValue;
///
/// let value: PythonValue = serde_json::from_str(r#"{"b": [1, "two", null], "a": true}"#).unwrap();
/// assert_eq!(value.to_string(), "{'b': [1, 'two', None], 'a': True}");
/// let text: PythonValue = serde_json::from_str(r#""plain""#).unwrap();
/// assert_eq!(text.to_string(), "plain");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum PythonValue {
    /// JSON `null`: Python's `None`.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A number with a fraction or an exponent: a Python `float`.
    Float(f64),
    /// A string.
    Str(String),
    /// An array: a Python `list`.
    List(Vec<PythonValue>),
    /// An object, keys in document order: a Python `dict`.
    Dict(Vec<(String, PythonValue)>),
}

impl PythonValue {
    /// Python's `repr()` of the value (what containers print for their items).
    pub fn repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            PythonValue::None => out.push_str("None"),
            PythonValue::Bool(true) => out.push_str("True"),
            PythonValue::Bool(false) => out.push_str("False"),
            PythonValue::Int(value) => out.push_str(&value.to_string()),
            PythonValue::Float(value) => out.push_str(&float_repr(*value)),
            PythonValue::Str(text) => out.push_str(&string_repr(text)),
            PythonValue::List(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    item.write_repr(out);
                }
                out.push(']');
            }
            PythonValue::Dict(entries) => {
                out.push('{');
                for (index, (key, value)) in entries.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&string_repr(key));
                    out.push_str(": ");
                    value.write_repr(out);
                }
                out.push('}');
            }
        }
    }
}

/// `str()`: a top-level string prints bare, everything else as its `repr()`.
impl fmt::Display for PythonValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PythonValue::Str(text) => f.write_str(text),
            other => f.write_str(&other.repr()),
        }
    }
}

/// Python's `repr()` of a string: single quotes unless the text has a single quote and no double quote.
pub fn string_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_unprintable(c) => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The characters below U+0100 that Python's `str.isprintable()` rejects.
fn is_unprintable(c: char) -> bool {
    matches!(u32::from(c), 0x00..=0x1f | 0x7f..=0xa0 | 0xad)
}

/// Python's `repr()` of a float: the shortest round-trip digits, positional for exponents from -4 to 15 and
/// scientific (`1e+16`, `1.5e-05`) otherwise.
pub fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "-1.5e-5" or "1e16".
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').expect("`{:e}` always has an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` exponents are integers");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if value < 0.0 { "-" } else { "" };
    let body = if (-4..16).contains(&exponent) {
        positional(&digits, exponent)
    } else {
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{exponent_sign}{:02}", exponent.abs())
    };
    format!("{sign}{body}")
}

/// Places the decimal point in `digits` (d.ddd × 10^exponent), always keeping one fractional digit.
fn positional(digits: &str, exponent: i32) -> String {
    if exponent < 0 {
        let zeros = "0".repeat((-exponent - 1) as usize);
        return format!("0.{zeros}{digits}");
    }
    let integer_len = exponent as usize + 1;
    if digits.len() <= integer_len {
        format!("{digits}{}.0", "0".repeat(integer_len - digits.len()))
    } else {
        format!("{}.{}", &digits[..integer_len], &digits[integer_len..])
    }
}

impl<'de> Deserialize<'de> for PythonValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PythonValueVisitor)
    }
}

struct PythonValueVisitor;

impl<'de> Visitor<'de> for PythonValueVisitor {
    type Value = PythonValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<PythonValue, E> {
        Ok(PythonValue::None)
    }

    fn visit_none<E: de::Error>(self) -> Result<PythonValue, E> {
        Ok(PythonValue::None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<PythonValue, D::Error> {
        PythonValue::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<PythonValue, E> {
        Ok(PythonValue::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<PythonValue, E> {
        Ok(PythonValue::Int(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<PythonValue, E> {
        Ok(PythonValue::Int(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<PythonValue, E> {
        Ok(PythonValue::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<PythonValue, E> {
        Ok(PythonValue::Str(value.to_string()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<PythonValue, E> {
        Ok(PythonValue::Str(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PythonValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(PythonValue::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PythonValue, A::Error> {
        let mut entries: Vec<(String, PythonValue)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, PythonValue>()? {
            // A repeated key keeps its first position and its last value, as in a Python dict.
            match entries.iter_mut().find(|(existing, _)| *existing == key) {
                Some(entry) => entry.1 = value,
                None => entries.push((key, value)),
            }
        }
        Ok(PythonValue::Dict(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn str_of(json: &str) -> String {
        serde_json::from_str::<PythonValue>(json).unwrap().to_string()
    }

    // Expected strings printed by CPython 3.11: print(f"{json.loads(text)}").
    #[test]
    fn scalars_print_like_python() {
        assert_eq!(str_of("null"), "None");
        assert_eq!(str_of("true"), "True");
        assert_eq!(str_of("-7"), "-7");
        assert_eq!(str_of(r#""it's""#), "it's");
        assert_eq!(str_of("18446744073709551615"), "18446744073709551615");
    }

    #[test]
    fn floats_print_like_python_repr() {
        for (json, python) in [
            ("1.0", "1.0"),
            ("0.1", "0.1"),
            ("-2.5", "-2.5"),
            ("1e16", "1e+16"),
            ("1.5e-5", "1.5e-05"),
            ("0.0001", "0.0001"),
            ("123456789.125", "123456789.125"),
            ("1e15", "1000000000000000.0"),
            ("1.2345678901234568e+17", "1.2345678901234568e+17"),
            ("-0.0", "-0.0"),
        ] {
            assert_eq!(str_of(json), python, "{json}");
        }
    }

    #[test]
    fn strings_inside_containers_use_repr_quoting() {
        assert_eq!(
            str_of(r#"["a", "it's", "say \"hi\"", "both ' and \""]"#),
            r#"['a', "it's", 'say "hi"', 'both \' and "']"#
        );
        assert_eq!(
            str_of(r#"["tab\tnew\nline", "back\\slash", "\u0001", "é"]"#),
            r"['tab\tnew\nline', 'back\\slash', '\x01', 'é']"
        );
    }

    #[test]
    fn dictionaries_keep_document_order() {
        assert_eq!(
            str_of(r#"{"z": 1, "a": [null, false], "m": {}}"#),
            "{'z': 1, 'a': [None, False], 'm': {}}"
        );
        assert_eq!(str_of(r#"{"k": 1, "k": 2}"#), "{'k': 2}");
    }
}
