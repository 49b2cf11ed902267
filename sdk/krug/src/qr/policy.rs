//! QR policy: pure functions of `(secret, code, now)`.
//!
//! Invariants (property-tested below): the code made for a step verifies at that step and at the
//! steps either side, and [`verify`] returns that step; two steps away it is refused.

use hmac::Hmac;
use hmac::digest::{KeyInit, Mac as _};
use sha2::Sha256;
use time::OffsetDateTime;
use zeroize::Zeroize as _;

use super::model::{QR_STEP_SECONDS, QrDigits, QrError, QrSecret};

type HmacSha256 = Hmac<Sha256>;

/// The TOTP step `now` falls in: whole [`QR_STEP_SECONDS`] since the Unix epoch (T0 = 0). An
/// instant before the epoch counts as step 0.
pub fn step_at(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp().div_euclid(i64::from(QR_STEP_SECONDS))).unwrap_or(0)
}

/// The code `secret` gives for `step` — what the member's app shows during that step.
pub fn code_at(secret: &QrSecret, step: u64) -> QrDigits {
    QrDigits::from_number(hotp(secret.as_bytes(), step))
}

/// Checks `code` against `secret` at `now`: the current step and one either side (clock skew
/// between the app and the server) are accepted, and the step the code was made for is returned
/// — it is what a use is recorded under. Anything else is [`QrError::Expired`].
///
/// Every candidate step is computed and compared in constant time, whichever matches.
pub fn verify(secret: &QrSecret, code: &QrDigits, now: OffsetDateTime) -> Result<u64, QrError> {
    let step = step_at(now);
    let mut matched = None;
    for candidate in [Some(step), step.checked_sub(1), step.checked_add(1)].into_iter().flatten() {
        if code_at(secret, candidate).ct_eq(code) && matched.is_none() {
            matched = Some(candidate);
        }
    }
    matched.ok_or(QrError::Expired)
}

/// HOTP with HMAC-SHA256 (RFC 4226 §5.3 truncation; RFC 6238 §1.2 allows SHA-256): the HMAC of
/// the 8-byte big-endian `counter`, 31 bits from the offset in the last byte's low nibble, the
/// last eight decimal digits. Keys are at most one SHA-256 block (checked at compile time), so
/// zero-padding them to the block is exactly HMAC's own key preparation and no fallible
/// constructor is needed.
fn hotp<const N: usize>(key: &[u8; N], counter: u64) -> u32 {
    const { assert!(N <= 64, "an HMAC-SHA256 key longer than its 64-byte block would be hashed first") };
    let mut padded = hmac::digest::Key::<HmacSha256>::default();
    for (slot, byte) in padded.iter_mut().zip(key) {
        *slot = *byte;
    }
    let mut mac = <HmacSha256 as KeyInit>::new(&padded);
    padded.as_mut_slice().zeroize();
    mac.update(&counter.to_be_bytes());
    let hash: [u8; 32] = mac.finalize().into_bytes().into();
    // The offset is at most 15, so the four bytes from it are always inside the 32.
    let offset = usize::from(hash.last().copied().unwrap_or(0) & 0x0f);
    let binary = hash.iter().skip(offset).take(4).fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) & 0x7fff_ffff;
    binary % 100_000_000
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::Duration;

    use super::*;
    use crate::qr::model::QR_SECRET_LEN;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    /// RFC 6238 Appendix B, the SHA-256 column: the 32-byte ASCII seed, T0 = 0, X = 30, 8 digits.
    #[test]
    fn hotp_matches_the_rfc_6238_sha256_test_vectors() {
        let seed = b"12345678901234567890123456789012";
        let vectors: [(i64, u32); 6] = [
            (59, 46_119_246),
            (1_111_111_109, 68_084_774),
            (1_111_111_111, 67_062_674),
            (1_234_567_890, 91_819_424),
            (2_000_000_000, 90_698_825),
            (20_000_000_000, 77_737_706),
        ];
        for (unix, expected) in vectors {
            assert_eq!(hotp(seed, step_at(at(unix))), expected, "T = {unix}");
        }
        // The same value as the digits the app shows.
        assert_eq!(QrDigits::from_number(hotp(seed, 1)).as_str(), "46119246");
    }

    #[test]
    fn steps_are_thirty_seconds_from_the_epoch() {
        assert_eq!(step_at(at(0)), 0);
        assert_eq!(step_at(at(29)), 0);
        assert_eq!(step_at(at(30)), 1);
        assert_eq!(step_at(at(59)), 1);
        assert_eq!(step_at(at(1_111_111_109)), 0x0235_23EC);
        assert_eq!(step_at(at(-1)), 0);
    }

    #[test]
    fn a_code_is_refused_two_steps_away_and_a_neighbours_code_is_not_ours() {
        let secret = QrSecret::from_bytes([7; QR_SECRET_LEN]);
        let other = QrSecret::from_bytes([8; QR_SECRET_LEN]);
        let now = at(1_772_441_400); // 2026-03-02 09:00 UTC, a step boundary
        let step = step_at(now);
        let code = code_at(&secret, step);
        assert_eq!(verify(&secret, &code, now), Ok(step));
        assert_eq!(verify(&secret, &code, now + Duration::seconds(29)), Ok(step));
        assert_eq!(verify(&secret, &code, now + Duration::seconds(30)), Ok(step));
        assert_eq!(verify(&secret, &code, now + Duration::seconds(59)), Ok(step));
        assert_eq!(verify(&secret, &code, now + Duration::seconds(60)), Err(QrError::Expired));
        assert_eq!(verify(&secret, &code, now - Duration::seconds(1)), Ok(step));
        assert_eq!(verify(&secret, &code, now - Duration::seconds(30)), Ok(step));
        assert_eq!(verify(&secret, &code, now - Duration::seconds(31)), Err(QrError::Expired));
        assert_eq!(verify(&other, &code, now), Err(QrError::Expired));
        // Step 0 has no step before it; its neighbour above still works.
        assert_eq!(verify(&secret, &code_at(&secret, 1), at(0)), Ok(1));
        assert_eq!(verify(&secret, &code_at(&secret, 0), at(10)), Ok(0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The step a code was made for is accepted from one step before to one step after, and
        /// verification names that step.
        #[test]
        fn a_code_verifies_within_one_step_either_side(
            bytes in any::<[u8; QR_SECRET_LEN]>(),
            unix in 60i64..4_000_000_000,
            skew in -1i64..=1,
            within in 0i64..30,
        ) {
            let secret = QrSecret::from_bytes(bytes);
            let step = step_at(at(unix));
            let code = code_at(&secret, step);
            let verify_at = at((i64::try_from(step).unwrap() + skew) * 30 + within);
            prop_assert_eq!(verify(&secret, &code, verify_at), Ok(step));
        }

        /// Two or more steps away a code is refused (a chance match of another step's code is
        /// 10⁻⁸ per step, far below what the cases can hit).
        #[test]
        fn a_code_is_refused_from_two_steps_away(
            bytes in any::<[u8; QR_SECRET_LEN]>(),
            unix in 120i64..4_000_000_000,
            distance in 2i64..1_000,
            later in any::<bool>(),
            within in 0i64..30,
        ) {
            let secret = QrSecret::from_bytes(bytes);
            let step = i64::try_from(step_at(at(unix))).unwrap();
            let code = code_at(&secret, u64::try_from(step).unwrap());
            let other = if later { step + distance } else { (step - distance).max(0) };
            prop_assume!((other - step).abs() >= 2);
            prop_assert_eq!(verify(&secret, &code, at(other * 30 + within)), Err(QrError::Expired));
        }

        /// What the app shows parses back to the same member and digits.
        #[test]
        fn a_payload_round_trips(uuid in any::<u128>(), digits in 0u32..100_000_000) {
            let code = super::super::QrCode::new(
                crate::types::MemberId::from_uuid(uuid::Uuid::from_u128(uuid)),
                QrDigits::from_number(digits),
            );
            prop_assert_eq!(super::super::QrCode::parse(&code.to_string()), Ok(code));
            prop_assert_eq!(super::super::QrCode::parse(&code.to_string().to_lowercase().replacen("kq1", "KQ1", 1)), Ok(code));
        }
    }
}
