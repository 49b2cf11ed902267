//! Coupon codes: what a member types or a till scans.
//!
//! Invariants:
//! - a generated code is [`RANDOM_CHARS`] characters drawn uniformly from [`ALPHABET`] by
//!   rejection sampling of CSPRNG bytes (29¹⁰ ≈ 2^48.6 codes, so ≥ 40 bits of entropy) plus one
//!   check character;
//! - the alphabet has no look-alikes: no 0/O, 1/I/L, U/V, Z/2 pairs can be confused, because only
//!   one of each pair is in it; its size, 29, is prime;
//! - the check character makes `Σ (i + 1) · value(cᵢ) ≡ 0 (mod 29)` over all 11 characters. The
//!   weights 1…11 are distinct and non-zero modulo the prime 29, so the check catches **every
//!   single-character substitution** and **every swap of two different characters, adjacent or
//!   not** (the sum changes by `(wᵢ − wⱼ)(vⱼ − vᵢ)`, a product of two non-zero residues);
//! - entry is case-insensitive: [`CouponCode::normalise`] uppercases, drops spaces, dashes and
//!   underscores, and reads Cyrillic look-alike letters (А, В, Е, К, М, Н, Р, С, Т, Х, У) as
//!   their Latin twins, so a code typed on a Russian keyboard layout still matches.
//!
//! A promo code may be a word its creator chose (`VESNA2026`): any 4–32 of `A–Z 0–9` after
//! normalisation. Only codes of the generated shape carry a check character.

use serde::{Deserialize, Serialize};

/// The code alphabet: digits 2–9 and the Latin capitals without I, L, O, U, Z (29 characters).
pub const ALPHABET: &[u8; 29] = b"23456789ABCDEFGHJKMNPQRSTVWXY";

/// Random characters in a generated code.
pub const RANDOM_CHARS: usize = 10;

/// Length of a generated code: the random characters and the check character.
pub const GENERATED_LEN: usize = RANDOM_CHARS + 1;

/// Shortest and longest accepted code (after normalisation).
const MIN_LEN: usize = 4;
const MAX_LEN: usize = 32;

/// The alphabet's size, the modulus of the check.
const MODULUS: u32 = 29;

/// Bytes at or above this are rejected so that `byte % 29` is uniform (232 = 8 × 29).
const REJECT_FROM: u8 = 232;

/// A code in normal form: upper case `A–Z 0–9`, no separators, 4–32 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CouponCode(String);

/// A code could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a coupon code is 4–32 letters and digits (spaces and dashes are ignored)")]
pub struct CodeError;

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|a| *a == c).and_then(|p| u32::try_from(p).ok())
}

fn char_of(v: u32) -> u8 {
    // v < 29 by construction (every caller reduces modulo 29).
    ALPHABET.get(usize::try_from(v).unwrap_or(0)).copied().unwrap_or(b'2')
}

/// `Σ (i + 1) · value(cᵢ) mod 29`, or `None` when a character is outside the alphabet.
fn weighted_sum(chars: &[u8]) -> Option<u32> {
    let mut sum = 0u32;
    for (i, c) in chars.iter().enumerate() {
        let weight = u32::try_from(i + 1).ok()?;
        sum = (sum + weight * value(*c)?) % MODULUS;
    }
    Some(sum)
}

/// The Latin twin of a Cyrillic look-alike capital or small letter.
fn latin_twin(c: char) -> Option<char> {
    Some(match c {
        'А' | 'а' => 'A',
        'В' | 'в' => 'B',
        'Е' | 'е' => 'E',
        'К' | 'к' => 'K',
        'М' | 'м' => 'M',
        'Н' | 'н' => 'H',
        'Р' | 'р' => 'P',
        'С' | 'с' => 'C',
        'Т' | 'т' => 'T',
        'Х' | 'х' => 'X',
        'У' | 'у' => 'Y',
        _ => return None,
    })
}

impl CouponCode {
    /// Reads a code as typed: case-insensitive, spaces, dashes and underscores ignored, Cyrillic
    /// look-alikes read as Latin.
    pub fn normalise(input: &str) -> Result<CouponCode, CodeError> {
        let mut out = String::with_capacity(input.len());
        for c in input.chars() {
            if c.is_whitespace() || c == '-' || c == '_' {
                continue;
            }
            let c = latin_twin(c).unwrap_or(c).to_ascii_uppercase();
            if !c.is_ascii_alphanumeric() {
                return Err(CodeError);
            }
            out.push(c);
            if out.len() > MAX_LEN {
                return Err(CodeError);
            }
        }
        if out.len() < MIN_LEN {
            return Err(CodeError);
        }
        Ok(CouponCode(out))
    }

    /// A new code from random bytes: each byte below 232 gives one character (`byte % 29`),
    /// others are skipped. `None` when the bytes run out first (ask for more: 10 characters need
    /// 11 bytes on average; 32 bytes fail with probability below 10⁻¹⁵).
    pub fn from_random(bytes: &[u8]) -> Option<CouponCode> {
        let mut chars: Vec<u8> = bytes
            .iter()
            .filter(|b| **b < REJECT_FROM)
            .take(RANDOM_CHARS)
            .map(|b| char_of(u32::from(*b) % MODULUS))
            .collect();
        if chars.len() < RANDOM_CHARS {
            return None;
        }
        chars.push(check_char(&chars)?);
        String::from_utf8(chars).ok().map(CouponCode)
    }

    /// Whether the code has the generated shape (11 characters of the alphabet).
    pub fn has_generated_shape(&self) -> bool {
        self.0.len() == GENERATED_LEN && self.0.bytes().all(|c| value(c).is_some())
    }

    /// Whether a code of the generated shape passes its check character.
    pub fn check_passes(&self) -> bool {
        self.has_generated_shape() && weighted_sum(self.0.as_bytes()) == Some(0)
    }

    /// The normal form (what is stored and compared).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For people: a generated code in groups of four (`ABCD-EFGH-JKM`); a chosen code as is.
    pub fn display(&self) -> String {
        if !self.has_generated_shape() {
            return self.0.clone();
        }
        let mut out = String::with_capacity(self.0.len() + 2);
        for (i, c) in self.0.chars().enumerate() {
            if i > 0 && i.is_multiple_of(4) {
                out.push('-');
            }
            out.push(c);
        }
        out
    }
}

/// The check character for `chars` (all in the alphabet): the one that makes the weighted sum
/// over `chars` and itself (at weight `len + 1`) zero modulo 29.
fn check_char(chars: &[u8]) -> Option<u8> {
    let sum = weighted_sum(chars)?;
    let weight = u32::try_from(chars.len() + 1).ok()? % MODULUS;
    // Find v with sum + weight · v ≡ 0; weight is invertible modulo the prime 29.
    (0..MODULUS).find(|v| (sum + weight * v).is_multiple_of(MODULUS)).map(char_of)
}

impl TryFrom<String> for CouponCode {
    type Error = CodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        CouponCode::normalise(&value)
    }
}

impl From<CouponCode> for String {
    fn from(code: CouponCode) -> String {
        code.0
    }
}

impl std::fmt::Display for CouponCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn code(bytes: &[u8]) -> CouponCode {
        CouponCode::from_random(bytes).unwrap()
    }

    #[test]
    fn alphabet_has_no_look_alikes_and_is_prime_sized() {
        for c in b"01ILOUZ" {
            assert!(!ALPHABET.contains(c), "{}", *c as char);
        }
        assert_eq!(ALPHABET.len(), 29);
        let mut sorted = ALPHABET.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), 29);
    }

    #[test]
    fn generated_codes_carry_at_least_40_bits() {
        // 29^10 > 2^48
        assert!(29u64.pow(u32::try_from(RANDOM_CHARS).unwrap()) > 1u64 << 48);
    }

    #[test]
    fn entry_is_case_and_separator_insensitive_and_reads_cyrillic_twins() {
        let c = code(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        let typed = c.display().to_lowercase().replace('-', " - ");
        assert_eq!(CouponCode::normalise(&typed).unwrap(), c);
        assert_eq!(CouponCode::normalise("вeсна-2026").unwrap().as_str(), "BECHA2026");
        assert!(CouponCode::normalise("AB!CD").is_err());
        assert!(CouponCode::normalise("ab").is_err());
        assert!(CouponCode::normalise(&"A".repeat(33)).is_err());
    }

    #[test]
    fn random_bytes_above_the_rejection_bound_are_skipped() {
        let mut bytes = vec![255u8, 240, 232];
        bytes.extend(0..10u8);
        assert_eq!(code(&bytes), code(&(0..10u8).collect::<Vec<_>>()));
        assert!(CouponCode::from_random(&[255; 40]).is_none());
    }

    #[test]
    fn display_groups_generated_codes_by_four() {
        let c = code(&(0..10u8).collect::<Vec<_>>());
        assert_eq!(c.display().len(), 13);
        assert_eq!(c.display().matches('-').count(), 2);
        assert_eq!(CouponCode::normalise("vesna2026").unwrap().display(), "VESNA2026");
    }

    proptest! {
        #[test]
        fn every_generated_code_passes_its_check(bytes in proptest::collection::vec(0u8..232, 10..20)) {
            let c = code(&bytes);
            prop_assert!(c.check_passes());
            prop_assert_eq!(c.as_str().len(), GENERATED_LEN);
        }

        #[test]
        fn every_single_character_substitution_is_caught(
            bytes in proptest::collection::vec(0u8..232, 10),
            pos in 0usize..GENERATED_LEN,
            replacement in 0usize..29,
        ) {
            let c = code(&bytes);
            let mut chars = c.as_str().as_bytes().to_vec();
            let new = ALPHABET[replacement];
            prop_assume!(chars[pos] != new);
            chars[pos] = new;
            let typo = CouponCode::normalise(std::str::from_utf8(&chars).unwrap()).unwrap();
            prop_assert!(!typo.check_passes());
        }

        #[test]
        fn every_transposition_of_two_different_characters_is_caught(
            bytes in proptest::collection::vec(0u8..232, 10),
            i in 0usize..GENERATED_LEN,
            j in 0usize..GENERATED_LEN,
        ) {
            let c = code(&bytes);
            let mut chars = c.as_str().as_bytes().to_vec();
            prop_assume!(chars[i] != chars[j]);
            chars.swap(i, j);
            let typo = CouponCode::normalise(std::str::from_utf8(&chars).unwrap()).unwrap();
            prop_assert!(!typo.check_passes());
        }
    }

    #[test]
    fn every_adjacent_transposition_and_substitution_of_one_code_is_caught_exhaustively() {
        let c = code(&[3, 14, 15, 92, 65, 35, 89, 79, 32, 38]);
        let base = c.as_str().as_bytes().to_vec();
        for pos in 0..GENERATED_LEN {
            for new in ALPHABET {
                if base[pos] == *new {
                    continue;
                }
                let mut chars = base.clone();
                chars[pos] = *new;
                assert_ne!(weighted_sum(&chars), Some(0));
            }
            if pos + 1 < GENERATED_LEN && base[pos] != base[pos + 1] {
                let mut chars = base.clone();
                chars.swap(pos, pos + 1);
                assert_ne!(weighted_sum(&chars), Some(0));
            }
        }
    }
}
