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

/// Why a string is not a [`Currency`] code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an ISO 4217 code of 3 uppercase letters, got {0:?}")]
pub struct CurrencyError(pub String);

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
    fn currency_error_names_the_value() {
        assert_eq!(
            CurrencyError("eur".into()).to_string(),
            "must be an ISO 4217 code of 3 uppercase letters, got \"eur\""
        );
    }
}
