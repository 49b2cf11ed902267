//! The QR wallet and the scan-to-accrual path (DESIGN §3): provisioning a member's QR secret,
//! the code her app shows, and the cashier's scan that turns a code into a purchase.
//!
//! Invariants:
//! - a member's secret is at rest only sealed with the tenant's key ring, bound to her row and
//!   the `qr_secret` field, like her personal data;
//! - a scan is one transaction: replay by `(business, receipt_id)` first, then the code is
//!   verified, the same purchase pipeline as `record_purchase` runs, and the code is claimed with
//!   the purchase it paid for; any refusal rolls all of it back, so a refused scan leaves the code
//!   unused;
//! - a code is claimed at most once: the claim's key is `(tenant, member, step)`.

use rand::RngCore as _;
use rand::rngs::OsRng;
use serde::Serialize;
use zeroize::Zeroize as _;

use super::purchases::{check_purchase, purchase_scope};
use super::{Krug, Replay, lost_race, replay, request_hash};
use crate::error::{Error, Result};
use crate::facade::Receipt;
use crate::pii::{KeyId, KeyRing, PiiError, aad};
use crate::purchase::PurchaseCommand;
use crate::qr::{self, QR_DIGITS, QR_SECRET_LEN, QR_STEP_SECONDS, QrCode, QrError, QrSecret};
use crate::store::{QrSecretRow, StoreError, TenantTx};
use crate::types::{Bonus, BusinessId, Category, Kopecks, MemberId, TenantId};

/// The MAC the codes are made with, as told to the app.
const QR_ALGORITHM: &str = "HMAC-SHA256";

/// The payload the app shows, as told to the app.
const QR_FORMAT: &str = "KQ1.<member>.<code>";

/// A cashier's scan of a member's QR code at the counter: the purchase is recorded for the member
/// the code names, once the code verifies.
#[derive(Debug, Clone, Serialize)]
pub struct Scan {
    /// The scanned payload, `KQ1.<member>.<8 digits>`, as read.
    pub qr: String,
    /// Where.
    pub business: BusinessId,
    /// The purchase total.
    pub amount: Kopecks,
    /// The partner's receipt id: the idempotency key, unique per business (shared with
    /// [`crate::RecordPurchase`]).
    pub receipt_id: String,
    /// Bonuses to pay with (default none); within the available balance and the tenant's cap.
    pub redeem: Bonus,
    /// The category; defaults to the business's own.
    pub category: Option<Category>,
    /// A coupon or promo code to apply, as typed.
    pub coupon: Option<String>,
}

impl Scan {
    /// A scan with defaults: the business's category, nothing redeemed.
    pub fn new(qr: impl Into<String>, business: BusinessId, amount: Kopecks, receipt_id: impl Into<String>) -> Self {
        Scan {
            qr: qr.into(),
            business,
            amount,
            receipt_id: receipt_id.into(),
            redeem: Bonus::ZERO,
            category: None,
            coupon: None,
        }
    }

    /// Applies a coupon or promo code.
    #[must_use]
    pub fn coupon(mut self, code: impl Into<String>) -> Self {
        self.coupon = Some(code.into());
        self
    }

    /// Pays `bonus` of the purchase with bonuses.
    #[must_use]
    pub fn redeem(mut self, bonus: Bonus) -> Self {
        self.redeem = bonus;
        self
    }

    /// Books the purchase under another category of the tenant.
    #[must_use]
    pub fn category(mut self, category: Category) -> Self {
        self.category = Some(category);
        self
    }
}

/// What a member's app needs to show codes offline. Holds the secret in clear: hand it to the
/// member's own device only, never log it (`Debug` redacts it).
#[derive(Clone, PartialEq, Eq)]
pub struct QrProvisioning {
    /// The secret, RFC 4648 base32, upper case, no padding (32 characters for 20 bytes).
    pub secret_base32: String,
    /// Digits per code (8).
    pub digits: u8,
    /// Seconds per step (30); steps count from the Unix epoch.
    pub step_seconds: u32,
    /// The MAC (`"HMAC-SHA256"`) over the 8-byte big-endian step, truncated as RFC 4226 §5.3.
    pub algorithm: &'static str,
    /// The payload to show (`"KQ1.<member>.<code>"`); the member id as 32 hex digits without dashes.
    pub format: &'static str,
}

impl std::fmt::Debug for QrProvisioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrProvisioning")
            .field("secret_base32", &"<redacted>")
            .field("digits", &self.digits)
            .field("step_seconds", &self.step_seconds)
            .field("algorithm", &self.algorithm)
            .field("format", &self.format)
            .finish()
    }
}

impl From<QrError> for Error {
    fn from(err: QrError) -> Self {
        match err {
            QrError::Malformed => Error::QrMalformed,
            QrError::Expired => Error::QrExpired,
        }
    }
}

/// Associated data binding a sealed QR secret to its tenant and member.
fn qr_aad(tenant: &TenantId, member: MemberId) -> Vec<u8> {
    aad(tenant.as_str(), &member.to_string(), "qr_secret")
}

/// The member's secret, opened: [`Error::MemberNotFound`] for no such member in this tenant,
/// [`Error::QrNotProvisioned`] for a member without one.
async fn open_secret(tx: &mut TenantTx, keys: &KeyRing, tenant: &TenantId, member: MemberId) -> Result<QrSecret> {
    unseal(tx.qr_secret(member).await?, keys, tenant, member)
}

/// The member's QR secret from its stored row.
fn unseal(row: QrSecretRow, keys: &KeyRing, tenant: &TenantId, member: MemberId) -> Result<QrSecret> {
    let (ciphertext, key) = match row {
        QrSecretRow::NoMember => return Err(Error::MemberNotFound),
        QrSecretRow::NotProvisioned => return Err(Error::QrNotProvisioned),
        QrSecretRow::Sealed(ciphertext, key) => (ciphertext, key),
    };
    let mut bytes = keys.open(&KeyId::parse(&key)?, &qr_aad(tenant, member), &ciphertext)?;
    let secret = QrSecret::from_slice(&bytes);
    bytes.zeroize();
    secret.ok_or_else(|| Error::Store(StoreError::Corrupt("QR secret has the wrong length".into())))
}

impl Krug {
    /// Gives the member a new QR secret and returns what her app needs to show codes. Any
    /// earlier secret is replaced at once: codes from it stop verifying. The secret is stored
    /// sealed with the tenant's key ring; the returned value is the only clear copy.
    pub async fn provision_qr_secret(&self, tenant: &TenantId, member: MemberId) -> Result<QrProvisioning> {
        let t = self.tenant(tenant)?;
        let mut bytes = [0u8; QR_SECRET_LEN];
        OsRng.try_fill_bytes(&mut bytes).map_err(|_| Error::Pii(PiiError::Encrypt))?;
        let secret = QrSecret::from_bytes(bytes);
        bytes.zeroize();
        let sealed = t.keys.seal(&qr_aad(tenant, member), secret.as_bytes())?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        if tx.qr_secret(member).await? == QrSecretRow::NoMember {
            return Err(Error::MemberNotFound);
        }
        tx.put_qr_secret(member, &sealed.ciphertext, sealed.key_id.as_str(), now).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, member = %member, "QR secret provisioned");
        Ok(QrProvisioning {
            secret_base32: secret.to_base32(),
            digits: QR_DIGITS,
            step_seconds: QR_STEP_SECONDS,
            algorithm: QR_ALGORITHM,
            format: QR_FORMAT,
        })
    }

    /// The payload the member's app would show now, for apps that do not compute codes
    /// themselves. [`Error::QrNotProvisioned`] before [`Krug::provision_qr_secret`].
    pub async fn current_qr(&self, tenant: &TenantId, member: MemberId) -> Result<String> {
        let t = self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.read(tenant).await?;
        let secret = open_secret(&mut tx, &t.keys, tenant, member).await?;
        Ok(QrCode::new(member, qr::code_at(&secret, qr::step_at(now))).to_string())
    }

    /// Records a purchase for the member whose QR code the cashier scanned: the code must be
    /// well-formed ([`Error::QrMalformed`]), name a member of this tenant
    /// ([`Error::MemberNotFound`]) who has a secret ([`Error::QrNotProvisioned`]), verify now
    /// within one step ([`Error::QrExpired`]) and not have bought before
    /// ([`Error::QrAlreadyUsed`]); then the purchase is recorded exactly as
    /// [`Krug::record_purchase`] records it, in the same transaction as the code's use.
    ///
    /// Idempotent by `(business, receipt_id)`, checked before the code: a retry of the same scan
    /// returns the same receipt and writes nothing, even though its code is used by then; the
    /// same receipt id with a different body is [`Error::IdempotencyConflict`]. A refused scan
    /// (insufficient balance, …) writes nothing, so its code can still be used.
    pub async fn scan(&self, tenant: &TenantId, cmd: Scan) -> Result<Receipt> {
        let t = self.tenant(tenant)?;
        let category =
            check_purchase(&t.config, &cmd.business, cmd.amount, cmd.redeem, &cmd.receipt_id, cmd.category.as_ref())?;
        // "The same scan" is the same member buying the same thing under the same receipt id,
        // whichever of her codes was shown: a till that times out and rescans a fresh code gets
        // the first receipt back instead of a conflict.
        let code = QrCode::parse(&cmd.qr)?;
        let coupon = cmd.coupon.as_deref().map(|c| super::coupons::read_code("coupon", c)).transpose()?;
        let hash = request_hash(&ScanIdentity {
            member: code.member(),
            business: &cmd.business,
            amount: cmd.amount,
            receipt_id: &cmd.receipt_id,
            redeem: cmd.redeem,
            category: cmd.category.as_ref(),
            coupon: coupon.as_ref().map(crate::coupon::CouponCode::as_str),
        })?;
        let scope = purchase_scope(&cmd.business);
        // One retry, for a concurrent request that won a unique key: the same scan committed
        // first (its claim of the code or its receipt id) — its receipt is then replayed. A code
        // genuinely used by another purchase is refused again on the retry.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_scan(tenant, &cmd, &category, coupon.as_ref(), &scope, &hash).await {
                Err(e) if attempt == 1 && (lost_race(&e) || matches!(e, Error::QrAlreadyUsed)) => continue,
                other => return other,
            }
        }
    }
}

/// What makes two scans the same request (the code's digits do not).
#[derive(serde::Serialize)]
struct ScanIdentity<'a> {
    member: MemberId,
    business: &'a BusinessId,
    amount: Kopecks,
    receipt_id: &'a str,
    redeem: Bonus,
    category: Option<&'a Category>,
    /// In normal form; absent from the hash when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    coupon: Option<&'a str>,
}

impl Krug {
    async fn try_scan(
        &self,
        tenant: &TenantId,
        cmd: &Scan,
        category: &Category,
        coupon: Option<&crate::coupon::CouponCode>,
        scope: &str,
        hash: &str,
    ) -> Result<Receipt> {
        let t = self.tenant(tenant)?;
        let now = self.now();
        let code = QrCode::parse(&cmd.qr)?;
        let member = code.member();
        // On SQLite, read before the write transaction, beside the writer rather than in its
        // turn: the secret (a provisioning is acknowledged only once committed, so any code made
        // from it finds it here) and the business's running offers (as if the scan came a moment
        // earlier). The code is still checked only after the replay below, as before.
        let early = match self.lookup(tenant).await? {
            Some(mut look) => Some((look.qr_secret(member).await?, look.running_offers(&cmd.business).await?)),
            None => None,
        };
        let mut tx = self.begin(tenant).await?;
        let (secret_row, running_offers) = match early {
            Some(early) => early,
            None => (tx.qr_secret(member).await?, tx.running_offers(&cmd.business).await?),
        };
        if let Replay::Done(receipt) = replay::<Receipt>(&mut tx, scope, &cmd.receipt_id, hash).await? {
            return Ok(receipt);
        }
        let step = {
            let secret = unseal(secret_row, &t.keys, tenant, member)?;
            qr::verify(&secret, code.digits(), now)?
        };
        let input = PurchaseCommand {
            member,
            business: &cmd.business,
            amount: cmd.amount,
            redeem: cmd.redeem,
            category: category.clone(),
            receipt_id: &cmd.receipt_id,
            at: now,
            idempotency: (scope, hash),
            coupon,
            qr_step: Some(step),
        };
        // The code is claimed with the purchase it paid for, in the same write set: a code
        // already used is refused there and everything rolls back with it.
        let receipt = self.purchase_in(&mut tx, &t.config, &input, running_offers, now).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, purchase = %receipt.purchase, member = %member, business = %cmd.business,
            step, amount = cmd.amount.get(), redeemed = cmd.redeem.get(), cashback = receipt.cashback.get(),
            "purchase scanned");
        Ok(receipt)
    }
}
