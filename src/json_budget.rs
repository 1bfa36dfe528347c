//! How many values a JSON document holds, counted in one pass that builds nothing: so a message made of millions
//! of tiny values (`[1,1,1,…]`, 50 MiB of which become a 1 GB tree) is refused before it is parsed into a tree,
//! while a large document of few values (a long text field) still is.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Whether `json` holds more than `limit` values (every scalar, array and object; object keys are not counted).
/// Text that is not JSON is not over the budget: the parser that reads it next reports what is wrong with it.
pub fn exceeds(json: &[u8], limit: usize) -> bool {
    let mut budget = Budget {
        remaining: limit,
        exceeded: false,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let _ = (&mut budget).deserialize(&mut deserializer);
    budget.exceeded
}

struct Budget {
    remaining: usize,
    exceeded: bool,
}

impl Budget {
    fn spend<E: de::Error>(&mut self) -> Result<(), E> {
        if self.remaining == 0 {
            self.exceeded = true;
            return Err(E::custom("over the value budget"));
        }
        self.remaining -= 1;
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for &mut Budget {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut Budget {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.spend()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.spend()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.spend()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.spend()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.spend()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.spend()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.spend()?;
        while seq.next_element_seed(&mut *self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.spend()?;
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(&mut *self)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_counted_at_every_depth() {
        let document = br#"{"a": [1, 2, {"b": null}], "c": "text", "d": true}"#;
        // The object, a's array, 1, 2, the inner object, null, "text", true.
        assert!(!exceeds(document, 8));
        assert!(exceeds(document, 7));
    }

    #[test]
    fn many_tiny_values_exceed_and_one_long_text_does_not() {
        let numbers = format!("[{}1]", "1,".repeat(200_000));
        assert!(exceeds(numbers.as_bytes(), 100_000));
        let text = format!(r#"{{"note": "{}"}}"#, "x".repeat(5_000_000));
        assert!(!exceeds(text.as_bytes(), 100_000));
    }

    #[test]
    fn text_that_is_not_json_is_left_to_the_parser() {
        assert!(!exceeds(b"not json", 1));
        assert!(!exceeds(b"[1,2,", 10));
        assert!(exceeds(b"[1,2,", 1), "the budget is checked as far as the text goes");
    }
}
