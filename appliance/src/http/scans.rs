//! The counter: the cashier scans the member's rotating QR code to record a purchase (accruing
//! and optionally redeeming), and refunds purchases made at the same business.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::dto::Text;
use super::dto::{Balance, Receipt, bonus, kopecks, parse_id};
use crate::auth::{BearerAuth, Role};
use crate::problem::ApiError;
use crate::state::AppState;

/// Counter endpoints.
pub struct ScansApi;

/// A scan at the counter.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ScanRequest {
    /// The member's QR payload, `KQ1.<member>.<8 digits>` (valid ±30 s, once).
    pub qr: Text,
    /// The purchase total in kopecks.
    pub amount_kopecks: i64,
    /// The till's receipt id: unique per business, the idempotency key of the scan.
    pub receipt_id: Text,
    /// Bonuses to pay with, in kopecks (default 0); at most the available balance and the
    /// tenant's share of the purchase.
    pub redeem_kopecks: Option<i64>,
    /// Book under another category of the tenant (default: the business's).
    pub category: Option<Text>,
    /// A coupon or promo code to apply (case, spaces and dashes ignored). A refused coupon
    /// refuses the whole scan with its own code (`coupon_expired`, …) and nothing is recorded.
    pub coupon: Option<Text>,
}

impl Example for ScanRequest {
    fn example() -> Self {
        ScanRequest {
            qr: "KQ1.0190A1B2C3D4E5F60718293A4B5C6D7E.48213307".into(),
            amount_kopecks: 500_000,
            receipt_id: "till-3/2026-03-02/0042".into(),
            redeem_kopecks: Some(50_000),
            category: None,
            coupon: None,
        }
    }
}

/// A refund of (part of) a purchase.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct RefundRequest {
    /// Your refund id: the idempotency key, unique per purchase.
    pub refund_id: Text,
    /// How much to refund; absent refunds everything not yet refunded.
    pub amount_kopecks: Option<i64>,
}

impl Example for RefundRequest {
    fn example() -> Self {
        RefundRequest { refund_id: "till-3/2026-03-02/0042/r1".into(), amount_kopecks: Some(250_000) }
    }
}

/// What a refund did.
#[derive(Debug, Clone, Object)]
pub struct RefundResponse {
    /// The purchase.
    pub purchase_id: Uuid,
    /// The refund id.
    pub refund_id: String,
    /// Refunded now, kopecks.
    pub amount_kopecks: i64,
    /// Refunded in total so far.
    pub refunded_total_kopecks: i64,
    /// Cashback taken back.
    pub cashback_reversed_kopecks: i64,
    /// Cashback that could not be taken back (already spent) and was written off.
    pub cashback_written_off_kopecks: i64,
    /// Bonuses paid on the purchase given back to the member.
    pub bonus_returned_kopecks: i64,
    /// Event-budget contribution reversed.
    pub budget_reversed_kopecks: i64,
    /// The member's tier after the refund.
    pub tier_after: Option<String>,
    /// The member's balance after the refund.
    pub balance: Balance,
    /// Bonus of the purchase's bonus-grant coupon taken back.
    pub coupon_bonus_reversed_kopecks: i64,
    /// Whether the refund gave the purchase's coupon back (tenant policy).
    pub coupon_restored: bool,
    /// Offer bonus taken back, proportionally like the cashback.
    pub offer_bonus_reversed_kopecks: i64,
}

fn counter(auth: &BearerAuth) -> Result<(&krug::types::TenantId, &krug::types::BusinessId), ApiError> {
    auth.0.require(&[Role::Cashier, Role::Manager, Role::Owner])?;
    Ok((auth.0.tenant()?, auth.0.business()?))
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Counter")]
impl ScansApi {
    /// Scan a member's QR code: record the purchase, redeem and accrue in one step.
    ///
    /// A retry with the same `receipt_id` and body returns the same receipt and changes nothing;
    /// the same `receipt_id` with another body is `409 idempotency_conflict`. A code works once
    /// (`409 qr_already_used`) within ±1 step of 30 s (`422 qr_expired`).
    #[oai(path = "/scans", method = "post", operation_id = "scan")]
    async fn scan(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<ScanRequest>,
    ) -> Result<Json<Receipt>, ApiError> {
        let (tenant, business) = counter(&auth)?;
        let mut cmd = krug::Scan::new(
            body.qr.clone(),
            business.clone(),
            kopecks("amount_kopecks", body.amount_kopecks)?,
            body.receipt_id.clone(),
        );
        if let Some(redeem) = body.redeem_kopecks {
            cmd = cmd.redeem(bonus("redeem_kopecks", redeem)?);
        }
        if let Some(category) = &body.category {
            cmd = cmd.category(
                krug::types::Category::parse(category).map_err(|e| ApiError::invalid("category", e.to_string()))?,
            );
        }
        if let Some(coupon) = &body.coupon {
            cmd = cmd.coupon(coupon.0.clone());
        }
        let receipt = state.krug.scan(tenant, cmd).await?;
        state.metrics.scans.inc();
        state.metrics.accrued.inc_by(u64::try_from(receipt.cashback.get()).unwrap_or(0));
        Ok(Json(Receipt::from(&receipt)))
    }

    /// Refund (part of) a purchase made at your business; idempotent by `refund_id`.
    #[oai(path = "/purchases/:purchase_id/refunds", method = "post", operation_id = "refund")]
    async fn refund(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        purchase_id: Path<String>,
        body: Json<RefundRequest>,
    ) -> Result<Json<RefundResponse>, ApiError> {
        let (tenant, business) = counter(&auth)?;
        let purchase = parse_id("purchase", &purchase_id.0)?;
        let amount = body.amount_kopecks.map(|a| kopecks("amount_kopecks", a)).transpose()?;
        let r = state
            .krug
            .refund_at(tenant, business, krug::RefundPurchase { purchase, refund_id: body.refund_id.0.clone(), amount })
            .await?;
        Ok(Json(RefundResponse {
            purchase_id: r.purchase.as_uuid(),
            refund_id: r.refund_id,
            amount_kopecks: r.amount.get(),
            refunded_total_kopecks: r.refunded_total.get(),
            cashback_reversed_kopecks: r.cashback_reversed.get(),
            cashback_written_off_kopecks: r.cashback_written_off.get(),
            bonus_returned_kopecks: r.bonus_returned.get(),
            budget_reversed_kopecks: r.budget_reversed.get(),
            tier_after: r.tier_after.map(|t| t.to_string()),
            balance: Balance::from(&r.balance),
            coupon_bonus_reversed_kopecks: r.coupon_bonus_reversed.get(),
            coupon_restored: r.coupon_restored,
            offer_bonus_reversed_kopecks: r.offer_bonus_reversed.get(),
        }))
    }
}
