//! Identity rules as pure functions: what a staff account may look like, when an SMS code may be
//! issued, what a code entry means, and what a consent must carry. No clock, store or randomness:
//! `now` and the stored state are passed in.

use time::OffsetDateTime;

use super::model::{
    GrantConsent, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, Role, SMS_CODE_DIGITS, SMS_HOURLY_LIMIT, SMS_HOURLY_WINDOW,
    SMS_MAX_ATTEMPTS, SMS_MIN_INTERVAL,
};
use crate::error::{Error, Result};
use crate::types::BusinessId;

/// Refuses a password shorter than [`PASSWORD_MIN_CHARS`] or longer than [`PASSWORD_MAX_CHARS`]
/// characters. The message never contains the password.
pub fn check_password(password: &str) -> Result<()> {
    let chars = password.chars().count();
    if (PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            field: "password",
            message: format!("must be {PASSWORD_MIN_CHARS}–{PASSWORD_MAX_CHARS} characters"),
        })
    }
}

/// A business-scoped role (cashier, manager, owner) needs exactly one business; an operator
/// must have none. Whether the business exists is the caller's check (it needs the tenant).
pub fn check_assignment(role: Role, business: Option<&BusinessId>) -> Result<()> {
    match (role.is_business_scoped(), business) {
        (true, Some(_)) | (false, None) => Ok(()),
        (true, None) => Err(Error::InvalidInput { field: "business", message: format!("a {role} needs a business") }),
        (false, Some(_)) => Err(Error::InvalidInput {
            field: "business",
            message: format!("an {role} acts for the whole tenant and has no business"),
        }),
    }
}

/// Refuses an actor that is blank or longer than 500 characters (audit records must name who).
pub fn check_actor(actor: &str) -> Result<()> {
    if actor.trim().is_empty() || actor.chars().count() > 500 {
        return Err(Error::InvalidInput { field: "actor", message: "must be 1–500 characters".into() });
    }
    Ok(())
}

/// Normalises a client address: an IP address, or a socket address whose IP is kept (the port
/// says nothing about who acted). Anything else is refused rather than stored unchecked.
pub fn normalise_client(client: Option<&str>) -> Result<Option<String>> {
    let Some(text) = client else { return Ok(None) };
    let text = text.trim();
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(Some(ip.to_string()));
    }
    if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
        return Ok(Some(addr.ip().to_string()));
    }
    Err(Error::InvalidInput { field: "client", message: "must be an IP address".into() })
}

/// Whether a new SMS code may be issued for a phone at `now`, given when the phone's earlier codes
/// were issued (any order; those outside the hourly window are ignored).
///
/// At most one code per [`SMS_MIN_INTERVAL`] and [`SMS_HOURLY_LIMIT`] per [`SMS_HOURLY_WINDOW`].
/// A code issued at `t` counts in a window of length `w` while `now < t + w`. A refusal carries
/// the whole seconds (rounded up) until enough codes have left their windows: after waiting that
/// long, the same request succeeds.
pub fn check_issue(issued: &[OffsetDateTime], now: OffsetDateTime) -> Result<()> {
    let mut in_hour: Vec<OffsetDateTime> = issued.iter().copied().filter(|t| now < *t + SMS_HOURLY_WINDOW).collect();
    in_hour.sort_unstable();
    let mut free_at: Option<OffsetDateTime> = None;
    // The interval limit: the newest code must have left the short window.
    if let Some(newest) = in_hour.last()
        && now < *newest + SMS_MIN_INTERVAL
    {
        free_at = Some(*newest + SMS_MIN_INTERVAL);
    }
    // The hourly limit: enough of the oldest codes must leave for the count to drop below it.
    if in_hour.len() >= SMS_HOURLY_LIMIT
        && let Some(blocking) = in_hour.get(in_hour.len() - SMS_HOURLY_LIMIT)
    {
        let at = *blocking + SMS_HOURLY_WINDOW;
        free_at = Some(free_at.map_or(at, |f| f.max(at)));
    }
    match free_at {
        None => Ok(()),
        Some(at) => Err(Error::RateLimited { retry_after_seconds: whole_seconds_until(now, at) }),
    }
}

/// Whole seconds from `now` to `at`, rounded up (at least 1 when `at` is in the future).
fn whole_seconds_until(now: OffsetDateTime, at: OffsetDateTime) -> u32 {
    let wait = at - now;
    let secs = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
    u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
}

/// Refuses a code that is not exactly [`SMS_CODE_DIGITS`] ASCII digits (surrounding blanks
/// ignored). Such an entry cannot match, so it costs no attempt and writes nothing.
pub fn check_code_format(code: &str) -> Result<&str> {
    let code = code.trim();
    if code.len() == SMS_CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code)
    } else {
        Err(Error::InvalidInput { field: "code", message: format!("must be {SMS_CODE_DIGITS} digits") })
    }
}

/// The stored state of the latest usable code for a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeState {
    /// Wrong entries so far.
    pub attempts: u32,
    /// The code is unusable from this instant on.
    pub expires_at: OffsetDateTime,
}

/// What one code entry means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeVerdict {
    /// The code is right and usable: consume it and sign in.
    Accept,
    /// No code, or it expired: nothing to record.
    Expired,
    /// The code was already entered wrong [`SMS_MAX_ATTEMPTS`] times: nothing to record.
    Dead,
    /// A wrong entry: store `attempts` (the new count).
    Wrong {
        /// Wrong entries including this one.
        attempts: u32,
    },
}

impl CodeVerdict {
    /// The refusal a caller sees, `None` for [`CodeVerdict::Accept`]. The wrong entry that uses up
    /// the last attempt already answers [`Error::TooManyAttempts`], so `attempts_left` is never 0.
    pub fn error(self) -> Option<Error> {
        match self {
            CodeVerdict::Accept => None,
            CodeVerdict::Expired => Some(Error::CodeExpired),
            CodeVerdict::Dead => Some(Error::TooManyAttempts),
            CodeVerdict::Wrong { attempts } if attempts >= SMS_MAX_ATTEMPTS => Some(Error::TooManyAttempts),
            CodeVerdict::Wrong { attempts } => {
                Some(Error::CodeInvalid { attempts_left: SMS_MAX_ATTEMPTS.saturating_sub(attempts) })
            }
        }
    }
}

/// Judges one entry of a code against the latest usable code (`None`: there is none). `matches`
/// is the constant-time comparison the caller made. A dead code stays dead even when the entry is
/// right, and an expired one is never compared: only a live code counts attempts.
pub fn judge_code(code: Option<CodeState>, matches: bool, now: OffsetDateTime) -> CodeVerdict {
    let Some(code) = code else { return CodeVerdict::Expired };
    if code.attempts >= SMS_MAX_ATTEMPTS {
        return CodeVerdict::Dead;
    }
    if now >= code.expires_at {
        return CodeVerdict::Expired;
    }
    if matches { CodeVerdict::Accept } else { CodeVerdict::Wrong { attempts: code.attempts.saturating_add(1) } }
}

/// Refuses a consent grant whose text version, text hash or channel is malformed: the ledger must
/// be able to prove which exact text was shown, and where.
pub fn check_grant(grant: &GrantConsent) -> Result<()> {
    let version = &grant.text_version;
    if version.trim().is_empty() || version.chars().count() > 64 || version.chars().any(char::is_control) {
        return Err(Error::InvalidInput {
            field: "text_version", message: "must be 1–64 printable characters".into()
        });
    }
    let sha = &grant.text_sha256;
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(Error::InvalidInput { field: "text_sha256", message: "must be 64 lowercase hex digits".into() });
    }
    let channel = &grant.channel;
    if !(1..=32).contains(&channel.len())
        || !channel.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(Error::InvalidInput {
            field: "channel", message: "must be 1–32 of a–z, 0–9, '-' or '_'".into()
        });
    }
    Ok(())
}

/// Refuses an audit action that is not 1–64 of `a-z 0-9 . _ -`, a target that is blank or longer
/// than 500 characters, and details that are not one JSON document.
pub fn check_audit_event(action: &str, target: &str, detail_json: &str) -> Result<()> {
    if !(1..=64).contains(&action.len())
        || !action.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(Error::InvalidInput {
            field: "action",
            message: "must be 1–64 of a–z, 0–9, '.', '_' or '-'".into(),
        });
    }
    if target.trim().is_empty() || target.chars().count() > 500 {
        return Err(Error::InvalidInput { field: "target", message: "must be 1–500 characters".into() });
    }
    if serde_json::from_str::<serde_json::Value>(detail_json).is_err() {
        return Err(Error::InvalidInput { field: "detail_json", message: "must be a JSON document".into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

    fn ago(secs: i64) -> OffsetDateTime {
        NOW - Duration::seconds(secs)
    }

    fn retry(result: Result<()>) -> Option<u32> {
        match result {
            Err(Error::RateLimited { retry_after_seconds }) => Some(retry_after_seconds),
            Err(other) => panic!("unexpected {other}"),
            Ok(()) => None,
        }
    }

    #[test]
    fn one_code_per_minute_with_the_exact_wait() {
        assert_eq!(retry(check_issue(&[], NOW)), None);
        assert_eq!(retry(check_issue(&[ago(0)], NOW)), Some(60));
        assert_eq!(retry(check_issue(&[ago(45)], NOW)), Some(15));
        assert_eq!(retry(check_issue(&[ago(59)], NOW)), Some(1));
        assert_eq!(retry(check_issue(&[ago(60)], NOW)), None);
        // A sub-second remainder rounds up, so waiting the answer is always enough.
        assert_eq!(retry(check_issue(&[NOW - Duration::milliseconds(59_500)], NOW)), Some(1));
    }

    #[test]
    fn five_codes_per_hour_counted_from_the_oldest_in_the_window() {
        let four = [ago(3_000), ago(2_000), ago(1_000), ago(100)];
        assert_eq!(retry(check_issue(&four, NOW)), None);
        let five = [ago(100), ago(3_000), ago(2_000), ago(1_000), ago(61)];
        assert_eq!(retry(check_issue(&five, NOW)), Some(600));
        // The oldest leaving the window frees a slot; codes older than an hour never count.
        let five_one_expired = [ago(3_600), ago(2_000), ago(1_000), ago(500), ago(100)];
        assert_eq!(retry(check_issue(&five_one_expired, NOW)), None);
        // Both limits: the longer wait wins.
        let five_recent = [ago(3_590), ago(3_000), ago(2_000), ago(1_000), ago(30)];
        assert_eq!(retry(check_issue(&five_recent, NOW)), Some(30));
        let five_old = [ago(3_500), ago(3_000), ago(2_000), ago(1_000), ago(50)];
        assert_eq!(retry(check_issue(&five_old, NOW)), Some(100));
    }

    #[test]
    fn a_code_entry_is_judged_dead_then_expired_then_compared() {
        let live = CodeState { attempts: 0, expires_at: NOW + Duration::seconds(1) };
        assert_eq!(judge_code(None, false, NOW), CodeVerdict::Expired);
        assert_eq!(judge_code(Some(live), true, NOW), CodeVerdict::Accept);
        assert_eq!(judge_code(Some(live), false, NOW), CodeVerdict::Wrong { attempts: 1 });
        assert_eq!(judge_code(Some(live), true, NOW + Duration::seconds(1)), CodeVerdict::Expired);
        let dead = CodeState { attempts: SMS_MAX_ATTEMPTS, ..live };
        assert_eq!(judge_code(Some(dead), true, NOW), CodeVerdict::Dead);
        let last = CodeState { attempts: SMS_MAX_ATTEMPTS - 1, ..live };
        assert_eq!(judge_code(Some(last), false, NOW), CodeVerdict::Wrong { attempts: SMS_MAX_ATTEMPTS });
    }

    #[test]
    fn wrong_entries_count_down_and_the_last_one_kills_the_code() {
        let codes: Vec<&str> = (1..=SMS_MAX_ATTEMPTS)
            .map(|attempts| CodeVerdict::Wrong { attempts }.error().map_or("none", |e| e.code()))
            .collect();
        assert_eq!(codes, ["code_invalid", "code_invalid", "code_invalid", "code_invalid", "too_many_attempts"]);
        assert!(matches!(CodeVerdict::Wrong { attempts: 1 }.error(), Some(Error::CodeInvalid { attempts_left: 4 })));
        assert!(matches!(CodeVerdict::Wrong { attempts: 4 }.error(), Some(Error::CodeInvalid { attempts_left: 1 })));
        assert!(CodeVerdict::Accept.error().is_none());
    }

    #[test]
    fn code_format_is_six_digits() {
        assert_eq!(check_code_format(" 012345 ").ok(), Some("012345"));
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６", "123 456"] {
            assert!(check_code_format(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn business_is_required_exactly_for_business_scoped_roles() {
        let b = BusinessId::parse("skinerica").unwrap();
        for role in [Role::Cashier, Role::Manager, Role::Owner] {
            assert!(check_assignment(role, Some(&b)).is_ok());
            assert_eq!(check_assignment(role, None).unwrap_err().code(), "invalid_input");
        }
        assert!(check_assignment(Role::Operator, None).is_ok());
        assert_eq!(check_assignment(Role::Operator, Some(&b)).unwrap_err().code(), "invalid_input");
    }

    #[test]
    fn passwords_need_ten_characters_counted_as_characters() {
        assert!(check_password("123456789").is_err());
        assert!(check_password("1234567890").is_ok());
        assert!(check_password("пароль-дл").is_err()); // 9 characters, 17 bytes
        assert!(check_password(&"x".repeat(PASSWORD_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn client_addresses_are_ips_and_ports_are_dropped() {
        assert_eq!(normalise_client(None).unwrap(), None);
        assert_eq!(normalise_client(Some("203.0.113.7")).unwrap().as_deref(), Some("203.0.113.7"));
        assert_eq!(normalise_client(Some("203.0.113.7:5555")).unwrap().as_deref(), Some("203.0.113.7"));
        assert_eq!(normalise_client(Some("[2001:db8::1]:443")).unwrap().as_deref(), Some("2001:db8::1"));
        assert!(normalise_client(Some("evil'; drop table")).is_err());
    }

    #[test]
    fn consent_grants_must_name_the_exact_text() {
        let ok = GrantConsent {
            kind: super::super::model::ConsentKind::MarketingSms,
            text_version: "marketing-sms-v3".into(),
            text_sha256: "a".repeat(64),
            channel: "app".into(),
        };
        assert!(check_grant(&ok).is_ok());
        let bad_hash = GrantConsent { text_sha256: "A".repeat(64), ..ok.clone() };
        assert_eq!(check_grant(&bad_hash).unwrap_err().to_string(), "text_sha256: must be 64 lowercase hex digits");
        let bad_version = GrantConsent { text_version: " ".into(), ..ok.clone() };
        assert!(check_grant(&bad_version).is_err());
        let bad_channel = GrantConsent { channel: "App Store".into(), ..ok };
        assert!(check_grant(&bad_channel).is_err());
    }
}
