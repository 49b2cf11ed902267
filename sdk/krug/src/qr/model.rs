//! QR wallet types. Invariants: a [`QrSecret`] is exactly [`QR_SECRET_LEN`] bytes, redacted in
//! `Debug` and zeroed on drop; [`QrDigits`] are exactly [`QR_DIGITS`] ASCII digits; a [`QrCode`]
//! is only ever built from a well-formed payload or from its parts.

use std::fmt;

use uuid::Uuid;
use zeroize::Zeroize;

pub use super::QrError;
use crate::types::MemberId;

/// Bytes of a member's QR secret (160 bits, as RFC 4226 recommends for HOTP secrets).
pub const QR_SECRET_LEN: usize = 20;

/// Decimal digits of a code. Eight digits make a blind guess succeed once in 10⁸ tries, and the
/// three-step window triples that at most.
pub const QR_DIGITS: u8 = 8;

/// Seconds per TOTP step (RFC 6238's default); T0 is the Unix epoch.
pub const QR_STEP_SECONDS: u32 = 30;

/// The payload's version tag. A later format gets a new tag and is parsed side by side.
pub const QR_PREFIX: &str = "KQ1";

/// A member's QR secret: the HMAC key both her app and the server derive codes from. No `Clone`,
/// `Display` or serde: the only ways out are [`QrSecret::to_base32`] (for provisioning the app)
/// and the bytes handed to the sealing cipher.
pub struct QrSecret([u8; QR_SECRET_LEN]);

impl QrSecret {
    /// Takes ownership of the bytes (from a random source); the caller should zero its own copy.
    pub fn from_bytes(bytes: [u8; QR_SECRET_LEN]) -> QrSecret {
        QrSecret(bytes)
    }

    /// The secret from stored bytes; `None` unless there are exactly [`QR_SECRET_LEN`] of them.
    pub fn from_slice(bytes: &[u8]) -> Option<QrSecret> {
        <[u8; QR_SECRET_LEN]>::try_from(bytes).ok().map(QrSecret)
    }

    /// The secret from its provisioning text (RFC 4648 base32, either case, no padding); `None`
    /// unless it decodes to exactly [`QR_SECRET_LEN`] bytes.
    pub fn from_base32(text: &str) -> Option<QrSecret> {
        let mut bytes = base32_decode(text)?;
        let secret = QrSecret::from_slice(&bytes);
        bytes.zeroize();
        secret
    }

    /// The provisioning text for the app: RFC 4648 base32, upper case, no padding (20 bytes are
    /// exactly 32 characters, so there is none to drop).
    pub fn to_base32(&self) -> String {
        base32(&self.0)
    }

    /// The key bytes, for the HMAC and for sealing at rest.
    pub fn as_bytes(&self) -> &[u8; QR_SECRET_LEN] {
        &self.0
    }
}

impl Drop for QrSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for QrSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QrSecret(<redacted>)")
    }
}

/// The digits of one code: exactly [`QR_DIGITS`] ASCII digits, leading zeros kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QrDigits([u8; QR_DIGITS as usize]);

impl QrDigits {
    /// Parses exactly eight ASCII digits.
    pub fn parse(text: &str) -> Result<QrDigits, QrError> {
        let bytes = <[u8; QR_DIGITS as usize]>::try_from(text.as_bytes()).map_err(|_| QrError::Malformed)?;
        if bytes.iter().all(u8::is_ascii_digit) { Ok(QrDigits(bytes)) } else { Err(QrError::Malformed) }
    }

    /// The digits of a truncated HOTP value: its last eight decimal digits, zero-padded.
    pub(crate) fn from_number(mut value: u32) -> QrDigits {
        let mut out = [b'0'; QR_DIGITS as usize];
        for slot in out.iter_mut().rev() {
            // `value % 10` is below 10, so the cast cannot truncate.
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
        QrDigits(out)
    }

    /// The digits as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored, so this is always valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Equality that takes the same time whichever digit differs, so response timing does not
    /// reveal how much of a guessed code was right.
    pub fn ct_eq(&self, other: &QrDigits) -> bool {
        let diff = self.0.iter().zip(&other.0).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Display for QrDigits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scanned payload: whose code it is and its digits. Not yet verified — that needs the
/// member's secret and the time ([`super::verify`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QrCode {
    member: MemberId,
    digits: QrDigits,
}

impl QrCode {
    /// The payload for `member` showing `digits`.
    pub fn new(member: MemberId, digits: QrDigits) -> QrCode {
        QrCode { member, digits }
    }

    /// Parses `KQ1.<member uuid as 32 hex digits, no dashes>.<8 digits>`. Surrounding whitespace
    /// (a scanner's line ending) is ignored and the hex may be in either case; anything else off
    /// the shape — another prefix, dashes, a short code, a fourth part — is [`QrError::Malformed`].
    pub fn parse(input: &str) -> Result<QrCode, QrError> {
        let mut parts = input.trim().split('.');
        let (Some(prefix), Some(member), Some(digits), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(QrError::Malformed);
        };
        if prefix != QR_PREFIX || member.len() != 32 || !member.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(QrError::Malformed);
        }
        let member = Uuid::try_parse(member).map_err(|_| QrError::Malformed)?;
        Ok(QrCode { member: MemberId::from_uuid(member), digits: QrDigits::parse(digits)? })
    }

    /// Whose code it claims to be.
    pub fn member(&self) -> MemberId {
        self.member
    }

    /// The digits shown.
    pub fn digits(&self) -> &QrDigits {
        &self.digits
    }
}

/// The payload as the app shows it. The hex is upper case so the whole payload fits QR
/// alphanumeric mode (`0-9 A-Z . …`), which makes a smaller, faster-scanning symbol.
impl fmt::Display for QrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{QR_PREFIX}.{:X}.{}", self.member.as_uuid().simple(), self.digits)
    }
}

/// The RFC 4648 base32 alphabet value of `index` (below 32).
fn base32_char(index: u32) -> char {
    // Below 26: a letter; 26..32: a digit 2–7. Both casts stay below 128.
    if index < 26 { char::from(b'A' + index as u8) } else { char::from(b'2' + (index - 26) as u8) }
}

/// RFC 4648 base32 (upper case, no padding). Written here rather than taken from a crate: it is
/// a dozen lines, tested against the RFC's own vectors, and used for one 20-byte value.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(base32_char((buffer >> bits) & 31));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(base32_char((buffer << (5 - bits)) & 31));
    }
    out
}

/// Decodes RFC 4648 base32 without padding, either case. `None` for a character outside the
/// alphabet, a length no encoding produces, or non-zero trailing bits.
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            // Masked to eight bits, so the cast is exact.
            out.push(((buffer >> bits) & 0xff) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // An encoder leaves at most four padding bits, all zero.
    if bits >= 5 || buffer != 0 {
        buffer.zeroize();
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBER: &str = "0195f1a2-7c4b-7d00-8a1b-0123456789ab";

    fn member() -> MemberId {
        MemberId::from_uuid(Uuid::parse_str(MEMBER).unwrap())
    }

    #[test]
    fn base32_matches_the_rfc_4648_vectors_without_padding() {
        let vectors = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base32(plain.as_bytes()), encoded, "encode {plain:?}");
            assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes(), "decode {encoded:?}");
            assert_eq!(base32_decode(&encoded.to_lowercase()).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn base32_decoding_refuses_what_no_encoder_writes() {
        assert_eq!(base32_decode("MY=="), None); // padding
        assert_eq!(base32_decode("M1"), None); // '1' is not in the alphabet
        assert_eq!(base32_decode("M"), None); // 5 bits: no whole byte
        assert_eq!(base32_decode("MZ"), None); // trailing bits not zero
        assert_eq!(base32_decode("MZX"), None); // 15 bits: no encoder stops here
    }

    #[test]
    fn a_secret_round_trips_through_its_provisioning_text() {
        let bytes: [u8; QR_SECRET_LEN] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
        let text = QrSecret::from_bytes(bytes).to_base32();
        assert_eq!(text.len(), 32);
        assert_eq!(QrSecret::from_base32(&text).unwrap().as_bytes(), &bytes);
        assert_eq!(QrSecret::from_base32(&text.to_lowercase()).unwrap().as_bytes(), &bytes);
        assert!(QrSecret::from_base32("MZXW6YTBOI").is_none(), "six bytes are not a secret");
        assert!(QrSecret::from_slice(&[0; 19]).is_none());
        assert_eq!(format!("{:?}", QrSecret::from_bytes(bytes)), "QrSecret(<redacted>)");
    }

    #[test]
    fn digits_keep_leading_zeros_and_only_the_last_eight() {
        assert_eq!(QrDigits::from_number(42).as_str(), "00000042");
        assert_eq!(QrDigits::from_number(99_999_999).as_str(), "99999999");
        assert_eq!(QrDigits::from_number(123_456_789).as_str(), "23456789");
        assert!(QrDigits::from_number(7).ct_eq(&QrDigits::parse("00000007").unwrap()));
        assert!(!QrDigits::from_number(7).ct_eq(&QrDigits::parse("00000008").unwrap()));
        assert!(!QrDigits::from_number(7).ct_eq(&QrDigits::parse("10000007").unwrap()));
    }

    #[test]
    fn a_payload_is_prefix_upper_hex_member_and_digits() {
        let code = QrCode::new(member(), QrDigits::parse("01234567").unwrap());
        assert_eq!(code.to_string(), "KQ1.0195F1A27C4B7D008A1B0123456789AB.01234567");
        assert_eq!(QrCode::parse(&code.to_string()), Ok(code));
    }

    #[test]
    fn parsing_trims_and_accepts_either_case_of_hex() {
        let expected = QrCode::new(member(), QrDigits::parse("01234567").unwrap());
        for text in [
            "KQ1.0195f1a27c4b7d008a1b0123456789ab.01234567",
            "  KQ1.0195F1A27C4B7D008A1B0123456789AB.01234567\r\n",
            "\tKQ1.0195f1A27c4b7D008a1b0123456789Ab.01234567 ",
        ] {
            assert_eq!(QrCode::parse(text), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn anything_off_the_shape_is_malformed() {
        for text in [
            "",
            "KQ1",
            "KQ1..",
            "KQ2.0195F1A27C4B7D008A1B0123456789AB.01234567", // another version
            "kq1.0195F1A27C4B7D008A1B0123456789AB.01234567", // the tag is exact
            "KQ1.0195F1A2-7C4B-7D00-8A1B-0123456789AB.01234567", // dashes
            "KQ1.0195F1A27C4B7D008A1B0123456789A.01234567",  // 31 hex
            "KQ1.0195F1A27C4B7D008A1B0123456789ABC.01234567", // 33 hex
            "KQ1.0195F1A27C4B7D008A1B0123456789AG.01234567", // not hex
            "KQ1.0195F1A27C4B7D008A1B0123456789AB.0123456",  // 7 digits
            "KQ1.0195F1A27C4B7D008A1B0123456789AB.012345678", // 9 digits
            "KQ1.0195F1A27C4B7D008A1B0123456789AB.0123456a", // not a digit
            "KQ1.0195F1A27C4B7D008A1B0123456789AB.+1234567", // a sign
            "KQ1.0195F1A27C4B7D008A1B0123456789AB.01234567.", // a fourth part
            "KQ1.0195F1A27C4B7D008A1B0123456789AB 01234567",
            "KQ1.0195F1A27C4B7D008A1B0123456789AB.0123 4567",
            "KQ1.０１９5F1A27C4B7D008A1B0123456789AB.01234567", // full-width digits
        ] {
            assert_eq!(QrCode::parse(text), Err(QrError::Malformed), "{text:?}");
        }
    }
}
