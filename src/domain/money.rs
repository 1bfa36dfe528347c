//! Money in minor units (cents, pence…) with an ISO 4217 currency code.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest amount accepted in one field, in minor units (10^12: ten billion in major units).
///
/// Bounding amounts (and quantities) keeps every sum the aggregate computes far from `i64` overflow.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// An ISO 4217 currency code: exactly three uppercase ASCII letters (`EUR`, `GBP`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

/// Why a string is not a [`Currency`] code. Quotes the code only when it is a short token (a mistyped field may
/// hold personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an ISO 4217 code of 3 uppercase letters, got {}", quoted(.0))]
pub struct CurrencyError(pub String);

fn quoted(code: &str) -> String {
    if super::log_text::is_quotable_token(code) {
        format!("{code:?}")
    } else {
        format!("a string of {} characters", code.chars().count())
    }
}

impl Currency {
    /// Validates `code` as an ISO 4217 code (shape only: three uppercase letters).
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(CurrencyError(code.to_owned()))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How many digits the minor unit has (2 for EUR, 0 for JPY, 3 for KWD): ISO 4217's exponent, 2 for codes
    /// the standard does not list or gives none (such as XAU).
    pub fn exponent(&self) -> u32 {
        iso_currency::Currency::from_code(&self.0)
            .and_then(iso_currency::Currency::exponent)
            .map_or(2, u32::from)
    }

    /// `amount_minor` in major units with the code, as a person reads it: `109.98 EUR`, `1,500 JPY`,
    /// `2,099.600 KWD`, `-5.00 EUR`.
    pub fn format_minor(&self, amount_minor: i64) -> String {
        format!("{} {}", self.format_number(amount_minor), self.0)
    }

    /// `amount_minor` in major units without the code: `109.98`, `1,500`.
    pub fn format_number(&self, amount_minor: i64) -> String {
        let exponent = self.exponent();
        let divisor = 10u64.pow(exponent);
        let magnitude = amount_minor.unsigned_abs();
        let whole = group_thousands(magnitude / divisor);
        let sign = if amount_minor < 0 { "-" } else { "" };
        if exponent == 0 {
            format!("{sign}{whole}")
        } else {
            let fraction = magnitude % divisor;
            let width = exponent as usize;
            format!("{sign}{whole}.{fraction:0width$}")
        }
    }
}

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::parse(&code)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.0
    }
}

/// An amount of money: a non-negative integer count of minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    /// The amount in minor units (4999 = 49.99 EUR).
    pub amount_minor: i64,
    /// The currency of the amount.
    pub currency: Currency,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_accepts_three_uppercase_letters_only() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        for bad in ["eur", "EU", "EURO", "E1R", "", "ÉUR"] {
            assert_eq!(Currency::parse(bad), Err(CurrencyError(bad.to_owned())), "{bad}");
        }
    }

    #[test]
    fn amounts_read_in_major_units_of_their_currency() {
        let format = |code: &str, minor| Currency::parse(code).unwrap().format_minor(minor);
        assert_eq!(format("EUR", 10998), "109.98 EUR");
        assert_eq!(format("EUR", 5), "0.05 EUR");
        assert_eq!(format("SEK", 209_960), "2,099.60 SEK");
        assert_eq!(format("JPY", 1_500), "1,500 JPY");
        assert_eq!(format("KWD", 2_099_600), "2,099.600 KWD");
        assert_eq!(format("EUR", -500), "-5.00 EUR");
        assert_eq!(format("XYZ", 1_000_000_000_000), "10,000,000,000.00 XYZ");
        assert_eq!(format("EUR", 0), "0.00 EUR");
    }

    #[test]
    fn currency_error_names_the_value() {
        assert_eq!(
            CurrencyError("eur".into()).to_string(),
            "must be an ISO 4217 code of 3 uppercase letters, got \"eur\""
        );
    }
}
