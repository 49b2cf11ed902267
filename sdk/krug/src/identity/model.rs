//! Identity types: staff roles and logins, SMS sign-in results, consents, profile updates and
//! audit events. Each validated type ([`Role`], [`Login`], [`ConsentKind`]) cannot be built
//! invalid; commands carrying secrets ([`NewStaff`], [`StaffUpdate`], [`IssuedCode`]) never print
//! them in `Debug`.

use time::{Date, Duration, OffsetDateTime};

use crate::error::{Error, Result};
use crate::types::{BusinessId, ConsentId, MemberId, StaffId};

/// How long an SMS code can be used after it is issued.
pub const SMS_CODE_TTL: Duration = Duration::minutes(5);
/// At most one code per phone in this window.
pub const SMS_MIN_INTERVAL: Duration = Duration::seconds(60);
/// The window of the hourly limit.
pub const SMS_HOURLY_WINDOW: Duration = Duration::hours(1);
/// At most this many codes per phone in [`SMS_HOURLY_WINDOW`].
pub const SMS_HOURLY_LIMIT: usize = 5;
/// Wrong entries after which a code is dead.
pub const SMS_MAX_ATTEMPTS: u32 = 5;
/// Digits in an SMS code.
pub const SMS_CODE_DIGITS: usize = 6;

/// Shortest staff password accepted (in characters).
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest staff password accepted: a bound on the hashing work one request can cause.
pub const PASSWORD_MAX_CHARS: usize = 1_024;

/// The version id of the processing-consent text a member accepts by signing in with an SMS code.
///
/// For now one built-in text serves every tenant; consent texts become tenant-configured (and
/// versioned per tenant) later. A changed text must get a new version id and a new hash.
pub const PROCESSING_CONSENT_VERSION: &str = "processing-v1";

/// The built-in processing-consent text of [`PROCESSING_CONSENT_VERSION`], shown to the member
/// before she asks for a code. Its SHA-256 is [`PROCESSING_CONSENT_SHA256`].
pub const PROCESSING_CONSENT_TEXT: &str = "Я даю согласие на обработку моих персональных данных (номер телефона, а также \
имя и дата рождения, если я их укажу) для участия в программе лояльности: начисления и списания бонусов, \
определения статуса и связи со мной по вопросам программы. Согласие действует до его отзыва; отозвать его \
можно в приложении в любой момент.";

/// SHA-256 (lowercase hex) of [`PROCESSING_CONSENT_TEXT`], stored with every consent granted to it
/// so the exact text shown can be proved later (a unit test keeps it equal to the text).
pub const PROCESSING_CONSENT_SHA256: &str = "5bafe87be65946ce973c2f4eec4cdf72007ff7c9adcd9ec4f46f0cea1ba45197";

/// The channel recorded for a consent given by signing in with an SMS code.
pub const SMS_CHANNEL: &str = "sms";

/// A staff role. Cashier, manager and owner act for one business of the tenant; an operator acts
/// for the whole tenant (no business).
///
/// Members and superadmins are not staff rows: the appliance authenticates members by SMS code
/// ([`SignIn`]) and superadmins from its own configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Scans members' codes and records purchases at one business.
    Cashier,
    /// Runs one business: its staff, offers and reports.
    Manager,
    /// Owns one business.
    Owner,
    /// Runs the ecosystem (tenant-wide).
    Operator,
}

impl Role {
    /// Every role, in rank order.
    pub const ALL: [Role; 4] = [Role::Cashier, Role::Manager, Role::Owner, Role::Operator];

    /// The stored and wire form (`cashier`, `manager`, `owner`, `operator`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Manager => "manager",
            Role::Owner => "owner",
            Role::Operator => "operator",
        }
    }

    /// Parses the wire form; anything else (including `member` and `superadmin`, which are not
    /// staff roles) is [`Error::InvalidInput`].
    pub fn parse(value: &str) -> Result<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == value).ok_or_else(|| Error::InvalidInput {
            field: "role",
            message: "must be one of cashier, manager, owner, operator".into(),
        })
    }

    /// Whether the role acts for one business (and so must name it).
    pub fn is_business_scoped(self) -> bool {
        !matches!(self, Role::Operator)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A staff login: 3–64 characters of `a-z 0-9 . _ @ -`, lower-cased on parse so `Olga@Skin`
/// and `olga@skin` are the same account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Login(String);

impl Login {
    /// Lower-cases and validates a login.
    pub fn parse(value: &str) -> Result<Login> {
        let lower = value.to_lowercase();
        let ok_len = (3..=64).contains(&lower.chars().count());
        let ok_chars =
            lower.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '@' | '-'));
        if ok_len && ok_chars {
            Ok(Login(lower))
        } else {
            Err(Error::InvalidInput {
                field: "login",
                message: "must be 3–64 characters of a–z, 0–9, '.', '_', '@' or '-'".into(),
            })
        }
    }

    /// The login text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A staff account as callers see it; the password hash never leaves the SDK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    /// The account.
    pub id: StaffId,
    /// Its login (lower-case).
    pub login: Login,
    /// What it may do.
    pub role: Role,
    /// The business it acts for: `Some` exactly when the role is business-scoped.
    pub business: Option<BusinessId>,
    /// Inactive accounts cannot sign in.
    pub active: bool,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// Create a staff account.
#[derive(Clone)]
pub struct NewStaff {
    /// The login; lower-cased, 3–64 of `a-z 0-9 . _ @ -`, unique in the tenant.
    pub login: String,
    /// The password, at least [`PASSWORD_MIN_CHARS`] characters; stored only as an Argon2id hash.
    pub password: String,
    /// The role.
    pub role: Role,
    /// The business, required for cashier/manager/owner and refused for an operator.
    pub business: Option<BusinessId>,
    /// Who creates it (for the audit record).
    pub actor: String,
    /// The creator's client address (IP), if known, for the audit record.
    pub client: Option<String>,
}

impl std::fmt::Debug for NewStaff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewStaff")
            .field("login", &self.login)
            .field("password", &"<redacted>")
            .field("role", &self.role)
            .field("business", &self.business)
            .field("actor", &self.actor)
            .field("client", &self.client)
            .finish()
    }
}

/// Change a staff account; `None` fields stay as they are. The resulting role and business must
/// still fit together (see [`Role::is_business_scoped`]).
#[derive(Clone, Default)]
pub struct StaffUpdate {
    /// A new role.
    pub role: Option<Role>,
    /// A new business (`Some(None)` removes it, as an operator needs).
    pub business: Option<Option<BusinessId>>,
    /// Activate or deactivate.
    pub active: Option<bool>,
    /// A new password (same rules as at creation).
    pub password: Option<String>,
    /// Who changes it (for the audit record).
    pub actor: String,
    /// The changer's client address (IP), if known, for the audit record.
    pub client: Option<String>,
}

impl std::fmt::Debug for StaffUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffUpdate")
            .field("role", &self.role)
            .field("business", &self.business)
            .field("active", &self.active)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("actor", &self.actor)
            .field("client", &self.client)
            .finish()
    }
}

/// A freshly issued SMS code. `code` is for the SMS gateway only: it is stored nowhere and must
/// not be logged (`Debug` redacts it).
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// Six decimal digits.
    pub code: String,
    /// The code cannot be used from this instant on.
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for IssuedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCode").field("code", &"<redacted>").field("expires_at", &self.expires_at).finish()
    }
}

/// A successful SMS sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignIn {
    /// The member with this phone.
    pub member: MemberId,
    /// Whether she was registered by this sign-in (and her processing consent recorded).
    pub new_member: bool,
}

/// A purpose a member consents to, each separately (compliance §1.1: consents are never bundled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConsentKind {
    /// Processing her personal data for the programme (given at sign-up).
    Processing,
    /// Transfer of her data to the coalition's partners.
    PartnerTransfer,
    /// Disclosure of clinic transactions (medical secrecy, compliance §2).
    MedicalDisclosure,
    /// Advertising by SMS.
    MarketingSms,
    /// Advertising by push notification.
    MarketingPush,
    /// Advertising by e-mail.
    MarketingEmail,
}

impl ConsentKind {
    /// Every kind.
    pub const ALL: [ConsentKind; 6] = [
        ConsentKind::Processing,
        ConsentKind::PartnerTransfer,
        ConsentKind::MedicalDisclosure,
        ConsentKind::MarketingSms,
        ConsentKind::MarketingPush,
        ConsentKind::MarketingEmail,
    ];

    /// The stored and wire form (`processing`, `partner_transfer`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Processing => "processing",
            ConsentKind::PartnerTransfer => "partner_transfer",
            ConsentKind::MedicalDisclosure => "medical_disclosure",
            ConsentKind::MarketingSms => "marketing_sms",
            ConsentKind::MarketingPush => "marketing_push",
            ConsentKind::MarketingEmail => "marketing_email",
        }
    }

    /// Parses the wire form; anything else is [`Error::InvalidInput`].
    pub fn parse(value: &str) -> Result<ConsentKind> {
        ConsentKind::ALL.into_iter().find(|k| k.as_str() == value).ok_or_else(|| Error::InvalidInput {
            field: "kind",
            message: "must be one of processing, partner_transfer, medical_disclosure, marketing_sms, \
                      marketing_push, marketing_email"
                .into(),
        })
    }
}

impl std::fmt::Display for ConsentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Grant one consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantConsent {
    /// The purpose.
    pub kind: ConsentKind,
    /// The version id of the consent text shown (1–64 printable characters).
    pub text_version: String,
    /// SHA-256 of the exact text shown, 64 lowercase hex digits.
    pub text_sha256: String,
    /// Where it was given (`app`, `sms`, `web`, `partner-desk`): 1–32 of `a-z 0-9 - _`.
    pub channel: String,
}

/// One row of the consent ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The row.
    pub id: ConsentId,
    /// Who consented.
    pub member: MemberId,
    /// To what.
    pub kind: ConsentKind,
    /// The text version shown.
    pub text_version: String,
    /// SHA-256 of the text shown.
    pub text_sha256: String,
    /// Where it was given.
    pub channel: String,
    /// When.
    pub granted_at: OffsetDateTime,
    /// When it was withdrawn; `None` while active.
    pub withdrawn_at: Option<OffsetDateTime>,
}

impl Consent {
    /// Whether the consent is in force (granted and not withdrawn).
    pub fn is_active(&self) -> bool {
        self.withdrawn_at.is_none()
    }
}

/// Change a member's optional profile fields. For each field: `None` leaves it, `Some(None)`
/// clears it, `Some(Some(v))` sets it (an empty or blank name also clears). The phone is her
/// identity and is not changed here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileUpdate {
    /// Her name.
    pub name: Option<Option<String>>,
    /// Her birthday.
    pub birthday: Option<Option<Date>>,
}

/// An audit record the caller writes itself, e.g. a staff member reading a member's personal
/// data (compliance §1.10: every access to personal data is audited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Who acted (a staff login, an operator, a system job): 1–500 characters.
    pub actor: String,
    /// What was done, 1–64 of `a-z 0-9 . _ -` (`member.read`).
    pub action: String,
    /// To what (`member:<id>`): 1–500 characters.
    pub target: String,
    /// Details as a JSON document (never personal data in clear).
    pub detail_json: String,
    /// The actor's client address (IP), if known.
    pub client: Option<String>,
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn the_processing_consent_hash_is_the_hash_of_its_text() {
        let digest = Sha256::digest(PROCESSING_CONSENT_TEXT.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, PROCESSING_CONSENT_SHA256);
    }

    #[test]
    fn roles_and_consent_kinds_round_trip_and_refuse_the_rest() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        for not_staff in ["member", "superadmin", "Cashier", ""] {
            assert_eq!(Role::parse(not_staff).unwrap_err().code(), "invalid_input", "{not_staff:?}");
        }
        assert!(!Role::Operator.is_business_scoped());
        assert!(Role::Cashier.is_business_scoped() && Role::Manager.is_business_scoped());
        for kind in ConsentKind::ALL {
            assert_eq!(ConsentKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert!(ConsentKind::parse("marketing").is_err());
    }

    #[test]
    fn logins_are_lower_cased_and_checked() {
        assert_eq!(Login::parse("Olga.P@Skinerica-1_x").unwrap().as_str(), "olga.p@skinerica-1_x");
        assert!(Login::parse("abc").is_ok());
        assert!(Login::parse(&"a".repeat(64)).is_ok());
        for bad in ["ab", "", "olga petrova", "ольга", "olga+1", &"a".repeat(65)] {
            assert_eq!(Login::parse(bad).unwrap_err().code(), "invalid_input", "{bad:?}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let new = NewStaff {
            login: "olga".into(),
            password: "correct horse battery".into(),
            role: Role::Operator,
            business: None,
            actor: "root".into(),
            client: None,
        };
        assert!(!format!("{new:?}").contains("horse"));
        let update = StaffUpdate { password: Some("correct horse battery".into()), ..StaffUpdate::default() };
        assert!(!format!("{update:?}").contains("horse"));
        let issued = IssuedCode { code: "493817".into(), expires_at: time::macros::datetime!(2026-03-02 09:05 UTC) };
        assert!(!format!("{issued:?}").contains("493817"));
    }
}
