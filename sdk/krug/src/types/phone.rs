//! A member's phone number, normalised to E.164 (`+79123456789`).
//!
//! Invariant: a `Phone` is always `+7` followed by ten digits of a Russian mobile number (`9xx`),
//! because the phone is the member's sign-in identity and must be able to receive an SMS code.
//! Every common written form is accepted: `8 (912) 345-67-89`, `+7 912 3456789`, `9123456789`,
//! `7-912-345-67-89`, with spaces, non-breaking spaces, dashes, dots and parentheses.

use serde::{Deserialize, Serialize};

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// Nothing but separators was given.
    #[error("phone number is empty")]
    Empty,
    /// A character that is neither a digit nor a separator.
    #[error("phone number contains {0:?}, which is not a digit or a separator")]
    InvalidCharacter(char),
    /// The digits do not form a Russian number.
    #[error("phone number must be a Russian mobile number such as +7 912 345-67-89")]
    NotRussianMobile,
}

/// A Russian mobile number in E.164 form.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses any common written form of a Russian mobile number.
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        let trimmed = input.trim();
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(11);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '\u{a0}' | '-' | '(' | ')' | '.' | '\t' => {}
                other => return Err(PhoneError::InvalidCharacter(other)),
            }
        }
        if digits.is_empty() {
            return Err(PhoneError::Empty);
        }
        let national = match (plus, digits.len()) {
            (true, 11) => digits.strip_prefix('7'),
            (false, 11) => digits.strip_prefix('7').or_else(|| digits.strip_prefix('8')),
            (false, 10) => Some(digits.as_str()),
            _ => None,
        }
        .ok_or(PhoneError::NotRussianMobile)?;
        if !national.starts_with('9') {
            return Err(PhoneError::NotRussianMobile);
        }
        Ok(Phone(format!("+7{national}")))
    }

    /// The E.164 form, `+79123456789`.
    pub fn as_e164(&self) -> &str {
        &self.0
    }

    /// A masked form for staff screens and logs: `+7 912 ***-**-89`.
    pub fn masked(&self) -> String {
        let d = self.0.as_bytes();
        let code = self.0.get(2..5).unwrap_or("");
        let last = self.0.get(d.len().saturating_sub(2)..).unwrap_or("");
        format!("+7 {code} ***-**-{last}")
    }
}

impl std::fmt::Debug for Phone {
    // A phone is personal data: debug output (and so logs) show only the masked form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Phone::parse(&value)
    }
}

impl From<Phone> for String {
    fn from(value: Phone) -> Self {
        value.0
    }
}

impl std::str::FromStr for Phone {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phone::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_russian_form_normalises_to_e164() {
        let valid = [
            "+79123456789",
            "+7 912 345-67-89",
            "+7 (912) 345-67-89",
            "+7(912)3456789",
            "+7 912 3456789",
            "8 (912) 345-67-89",
            "8-912-345-67-89",
            "89123456789",
            "8 912 345 67 89",
            "79123456789",
            "7 912 345 67 89",
            "9123456789",
            "(912) 345-67-89",
            "912.345.67.89",
            "  +7 912 345 67 89  ",
            "+7\u{a0}912\u{a0}345\u{a0}67\u{a0}89",
        ];
        for input in valid {
            assert_eq!(Phone::parse(input).map(|p| p.as_e164().to_owned()), Ok("+79123456789".to_owned()), "{input:?}");
        }
    }

    #[test]
    fn malformed_and_foreign_numbers_are_refused_with_a_reason() {
        let invalid = [
            ("", PhoneError::Empty),
            ("  ", PhoneError::Empty),
            ("+", PhoneError::Empty),
            ("+7 912 345 67 8", PhoneError::NotRussianMobile),
            ("+7 912 345 67 890", PhoneError::NotRussianMobile),
            ("+8 912 345 67 89", PhoneError::NotRussianMobile),
            ("+1 212 555 0100", PhoneError::NotRussianMobile),
            ("+7 495 123-45-67", PhoneError::NotRussianMobile),
            ("+7 701 123-45-67", PhoneError::NotRussianMobile),
            ("912345678", PhoneError::NotRussianMobile),
            ("69123456789", PhoneError::NotRussianMobile),
            ("+7 912 345-67-8a", PhoneError::InvalidCharacter('a')),
            ("8 912 345 67 89 доб. 1", PhoneError::InvalidCharacter('д')),
            ("++79123456789", PhoneError::InvalidCharacter('+')),
            ("8/912/345/67/89", PhoneError::InvalidCharacter('/')),
        ];
        for (input, expected) in invalid {
            assert_eq!(Phone::parse(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_whole_number() {
        let phone = Phone::parse("+79123456789").unwrap();
        let shown = format!("{phone:?}");
        assert!(!shown.contains("3456789"), "{shown}");
        assert_eq!(phone.masked(), "+7 912 ***-**-89");
    }
}
