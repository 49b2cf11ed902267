//! Coupons and promo codes: owners and the operator create templates, issue codes (in bulk, as a
//! shared promo code, or to one member) and revoke templates; a cashier previews a coupon for a
//! purchase; a member lists her coupons with their rules in plain words. Applying a coupon is
//! part of the scan (`coupon` in the scan request).
//!
//! An owner manages only his business's templates: another business's template answers 404,
//! exactly like one that does not exist. Listings show aggregate use counts only, never who used
//! a coupon, so a clinic's coupon reveals nothing about its patients to anyone.

use poem::web::{Data, RemoteAddr};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Enum, Object, OpenApi};
use time::OffsetDateTime;
use uuid::Uuid;

use super::ApiTags;
use super::dto::{Text, bonus, kopecks, parse_id};
use crate::auth::{BearerAuth, Role};
use crate::problem::ApiError;
use crate::state::AppState;
use krug::coupon::{CouponKind, CouponScope, CouponTerms, Validity};

/// Coupon endpoints.
pub struct CouponsApi;

/// What a coupon does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum CouponKindName {
    /// `percent_bps` off the purchase total.
    PercentOff,
    /// `amount_kopecks` off the purchase total.
    FixedOff,
    /// `amount_kopecks` of bonus credited with the purchase.
    BonusGrant,
    /// The `gift` handed over at the counter.
    Gift,
}

/// Where a coupon applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum CouponScopeName {
    /// At the business `scope_value` (an owner's templates: always his own).
    Business,
    /// At purchases booked under the category `scope_value`.
    Category,
    /// At any partner.
    Any,
}

/// A new coupon template.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct TemplateRequest {
    /// Slug, unique in the tenant: 2–40 of `a–z 0–9 - _`, starting with a letter.
    pub code: Text,
    /// Short name for staff lists.
    pub name: Text,
    /// What it does.
    pub kind: CouponKindName,
    /// For `percent_off`: 1–10000 basis points.
    pub percent_bps: Option<u16>,
    /// For `fixed_off` and `bonus_grant`: the amount, kopecks.
    pub amount_kopecks: Option<i64>,
    /// For `gift`: what is handed over, in words.
    pub gift: Option<Text>,
    /// Where it applies.
    pub scope: CouponScopeName,
    /// The business or category of the scope; an owner may leave it out (his business).
    pub scope_value: Option<Text>,
    /// Fixed validity: first valid instant (with `valid_until`).
    pub valid_from: Option<OffsetDateTime>,
    /// Fixed validity: first instant no longer valid.
    pub valid_until: Option<OffsetDateTime>,
    /// Or: valid this many days from issue (1–3650).
    pub valid_days: Option<u32>,
    /// Smallest purchase total it applies to, kopecks (default 0).
    pub min_purchase_kopecks: Option<i64>,
    /// Most uses per member across the template's codes (default: no limit).
    pub per_member_limit: Option<u32>,
    /// Most uses in total across the template's codes (default: no limit).
    pub global_limit: Option<u32>,
    /// Whether it combines with paying by bonuses in the same purchase (default false).
    pub stackable: Option<bool>,
}

impl Example for TemplateRequest {
    fn example() -> Self {
        TemplateRequest {
            code: "mindal-10".into(),
            name: "Autumn 10 %".into(),
            kind: CouponKindName::PercentOff,
            percent_bps: Some(1_000),
            amount_kopecks: None,
            gift: None,
            scope: CouponScopeName::Business,
            scope_value: Some("mindal".into()),
            valid_from: None,
            valid_until: None,
            valid_days: Some(30),
            min_purchase_kopecks: Some(100_000),
            per_member_limit: Some(1),
            global_limit: Some(1_000),
            stackable: Some(false),
        }
    }
}

/// A coupon template with its aggregate use.
#[derive(Debug, Clone, Object)]
pub struct TemplateResponse {
    /// The template's code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// What it does.
    pub kind: CouponKindName,
    /// For `percent_off`.
    pub percent_bps: Option<u16>,
    /// For `fixed_off` and `bonus_grant`.
    pub amount_kopecks: Option<i64>,
    /// For `gift`.
    pub gift: Option<String>,
    /// Where it applies.
    pub scope: CouponScopeName,
    /// The business or category of the scope.
    pub scope_value: Option<String>,
    /// Fixed validity start.
    pub valid_from: Option<OffsetDateTime>,
    /// Fixed validity end (exclusive).
    pub valid_until: Option<OffsetDateTime>,
    /// Or days from issue.
    pub valid_days: Option<u32>,
    /// Smallest purchase total, kopecks.
    pub min_purchase_kopecks: i64,
    /// Most uses per member.
    pub per_member_limit: Option<u32>,
    /// Most uses in total.
    pub global_limit: Option<u32>,
    /// Whether it combines with paying by bonuses.
    pub stackable: bool,
    /// The business that pays for it; absent: the ecosystem.
    pub funded_by: Option<String>,
    /// The business whose owner created it; absent: the operator.
    pub owner_business: Option<String>,
    /// Uses so far (restored ones excluded).
    pub uses: u32,
    /// Whether it was revoked.
    pub revoked: bool,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Its rules in plain words.
    pub rules: String,
}

impl From<krug::CouponTemplateView> for TemplateResponse {
    fn from(v: krug::CouponTemplateView) -> TemplateResponse {
        let (funded_by, owner, t) = (v.template.funded_by, v.template.owner, v.template.terms);
        let (kind, percent_bps, amount_kopecks, gift) = match t.kind {
            CouponKind::PercentOff { rate } => (CouponKindName::PercentOff, Some(rate.get()), None, None),
            CouponKind::FixedOff { amount } => (CouponKindName::FixedOff, None, Some(amount.get()), None),
            CouponKind::BonusGrant { amount } => (CouponKindName::BonusGrant, None, Some(amount.get()), None),
            CouponKind::Gift { description } => (CouponKindName::Gift, None, None, Some(description)),
        };
        let (scope, scope_value) = match t.scope {
            CouponScope::Business(b) => (CouponScopeName::Business, Some(b.to_string())),
            CouponScope::Category(c) => (CouponScopeName::Category, Some(c.to_string())),
            CouponScope::Any => (CouponScopeName::Any, None),
        };
        let (valid_from, valid_until, valid_days) = match t.validity {
            Validity::Dates { from, until } => (Some(from), Some(until), None),
            Validity::DaysFromIssue(d) => (None, None, Some(d)),
        };
        TemplateResponse {
            code: t.code,
            name: t.name,
            kind,
            percent_bps,
            amount_kopecks,
            gift,
            scope,
            scope_value,
            valid_from,
            valid_until,
            valid_days,
            min_purchase_kopecks: t.min_purchase.get(),
            per_member_limit: t.per_member_limit,
            global_limit: t.global_limit,
            stackable: t.stackable,
            funded_by: funded_by.map(|b| b.to_string()),
            owner_business: owner.map(|b| b.to_string()),
            uses: v.uses,
            revoked: v.revoked,
            created_at: v.created_at,
            rules: v.rules,
        }
    }
}

/// Bulk issuance of single-use bearer codes.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct BulkRequest {
    /// How many codes, 1–100000.
    pub count: u32,
}

impl Example for BulkRequest {
    fn example() -> Self {
        BulkRequest { count: 500 }
    }
}

/// Codes issued in bulk.
#[derive(Debug, Clone, Object)]
pub struct BulkResponse {
    /// The batch.
    pub batch_id: Uuid,
    /// Their template.
    pub template: String,
    /// How many.
    pub count: u64,
    /// The codes as people read them (`ABCD-EFGH-JKM`); entry ignores case, spaces and dashes.
    pub codes: Vec<String>,
    /// First valid instant.
    pub valid_from: OffsetDateTime,
    /// First instant no longer valid.
    pub valid_until: OffsetDateTime,
}

/// A shared promo code.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct PromoRequest {
    /// The code's text, 4–32 letters and digits (case, spaces and dashes ignored); absent
    /// generates one.
    pub code: Option<Text>,
    /// Most uses in total (absent: only the template's limits). The template's per-member limit
    /// applies to each member.
    pub max_uses: Option<u32>,
}

impl Example for PromoRequest {
    fn example() -> Self {
        PromoRequest { code: Some("VESNA2026".into()), max_uses: Some(500) }
    }
}

/// A personal coupon for one member.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct IssueRequest {
    /// The member.
    pub member_id: Text,
}

/// An issued code.
#[derive(Debug, Clone, Object)]
pub struct IssuedResponse {
    /// The code as people read it.
    pub code: String,
    /// Its template.
    pub template: String,
    /// The member it is bound to; absent for a promo code.
    pub member_id: Option<Uuid>,
    /// First valid instant.
    pub valid_from: OffsetDateTime,
    /// First instant no longer valid.
    pub valid_until: OffsetDateTime,
    /// Most uses of the code.
    pub max_uses: Option<u32>,
}

impl From<krug::IssuedCoupon> for IssuedResponse {
    fn from(c: krug::IssuedCoupon) -> IssuedResponse {
        IssuedResponse {
            code: c.code.display(),
            template: c.template,
            member_id: c.member.map(|m| m.as_uuid()),
            valid_from: c.valid_from,
            valid_until: c.valid_until,
            max_uses: c.max_uses,
        }
    }
}

/// A cashier's preview of a coupon.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct PreviewRequest {
    /// The code as typed.
    pub code: Text,
    /// The purchase total, kopecks.
    pub amount_kopecks: i64,
    /// The member, when known (personal coupons and per-member limits).
    pub member_id: Option<Text>,
    /// Bonuses to be paid with, kopecks (default 0).
    pub redeem_kopecks: Option<i64>,
    /// Booked under another category (default: the business's).
    pub category: Option<Text>,
}

impl Example for PreviewRequest {
    fn example() -> Self {
        PreviewRequest {
            code: "ABCD-EFGH-JKM".into(),
            amount_kopecks: 150_000,
            member_id: None,
            redeem_kopecks: None,
            category: None,
        }
    }
}

/// What a coupon would do; nothing was written.
#[derive(Debug, Clone, Object)]
pub struct PreviewResponse {
    /// The code.
    pub code: String,
    /// Its template.
    pub template: String,
    /// Off the total, kopecks.
    pub discount_kopecks: i64,
    /// Bonus that would be credited.
    pub bonus_kopecks: i64,
    /// The gift to hand over.
    pub gift: Option<String>,
    /// What the member would be charged before bonuses.
    pub charged_kopecks: i64,
    /// The coupon's rules in plain words.
    pub rules: String,
}

/// Where a member's coupon stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum CouponStatus {
    /// Can be used.
    Active,
    /// Used.
    Used,
    /// Validity ended or revoked.
    Expired,
}

/// One of the member's coupons.
#[derive(Debug, Clone, Object)]
pub struct MyCoupon {
    /// The code as people read it.
    pub code: String,
    /// Where it stands.
    pub status: CouponStatus,
    /// Its rules in plain words ("10 % off at Миндаль, purchases from 1,000 ₽, until 12 Dec 2026").
    pub rules: String,
    /// First valid instant.
    pub valid_from: OffsetDateTime,
    /// First instant no longer valid.
    pub valid_until: OffsetDateTime,
}

/// The member's coupons, grouped.
#[derive(Debug, Clone, Object)]
pub struct MyCoupons {
    /// Usable now.
    pub active: Vec<MyCoupon>,
    /// Used.
    pub used: Vec<MyCoupon>,
    /// Expired or revoked.
    pub expired: Vec<MyCoupon>,
}

/// The author of templates behind a token: an owner (his business) or the operator.
fn author(auth: &BearerAuth) -> Result<(&krug::types::TenantId, krug::CouponAuthor), ApiError> {
    auth.0.require(&[Role::Owner, Role::Operator])?;
    let tenant = auth.0.tenant()?;
    let author = match auth.0.role {
        Role::Operator => krug::CouponAuthor::Operator,
        _ => krug::CouponAuthor::Owner(auth.0.business()?.clone()),
    };
    Ok((tenant, author))
}

fn template_from(req: &TemplateRequest, author: &krug::CouponAuthor) -> Result<CouponTerms, ApiError> {
    let amount = |field: &str| -> Result<i64, ApiError> {
        req.amount_kopecks.ok_or_else(|| ApiError::invalid(field, "is required for this kind"))
    };
    let kind = match req.kind {
        CouponKindName::PercentOff => {
            let bps = req.percent_bps.ok_or_else(|| ApiError::invalid("percent_bps", "is required for percent_off"))?;
            CouponKind::PercentOff {
                rate: krug::types::Bps::new(bps).map_err(|e| ApiError::invalid("percent_bps", e.to_string()))?,
            }
        }
        CouponKindName::FixedOff => {
            CouponKind::FixedOff { amount: kopecks("amount_kopecks", amount("amount_kopecks")?)? }
        }
        CouponKindName::BonusGrant => {
            CouponKind::BonusGrant { amount: bonus("amount_kopecks", amount("amount_kopecks")?)? }
        }
        CouponKindName::Gift => CouponKind::Gift {
            description: req
                .gift
                .clone()
                .map(String::from)
                .ok_or_else(|| ApiError::invalid("gift", "is required for gift"))?,
        },
    };
    let value = req.scope_value.as_deref();
    let scope = match (req.scope, value, author) {
        (CouponScopeName::Business, Some(b), _) => CouponScope::Business(
            krug::types::BusinessId::parse(b).map_err(|e| ApiError::invalid("scope_value", e.to_string()))?,
        ),
        (CouponScopeName::Business, None, krug::CouponAuthor::Owner(own)) => CouponScope::Business(own.clone()),
        (CouponScopeName::Category, Some(c), _) => CouponScope::Category(
            krug::types::Category::parse(c).map_err(|e| ApiError::invalid("scope_value", e.to_string()))?,
        ),
        (CouponScopeName::Any, None, _) => CouponScope::Any,
        (CouponScopeName::Any, Some(_), _) => return Err(ApiError::invalid("scope_value", "must be absent for any")),
        (_, None, _) => return Err(ApiError::invalid("scope_value", "is required for this scope")),
    };
    let validity = match (req.valid_from, req.valid_until, req.valid_days) {
        (Some(from), Some(until), None) => Validity::Dates { from, until },
        (None, None, Some(days)) => Validity::DaysFromIssue(days),
        _ => return Err(ApiError::invalid("valid_days", "give either valid_from and valid_until, or valid_days")),
    };
    Ok(CouponTerms {
        code: req.code.0.clone(),
        name: req.name.0.clone(),
        kind,
        scope,
        validity,
        min_purchase: kopecks("min_purchase_kopecks", req.min_purchase_kopecks.unwrap_or(0))?,
        per_member_limit: req.per_member_limit,
        global_limit: req.global_limit,
        stackable: req.stackable.unwrap_or(false),
    })
}

fn my(c: krug::MemberCoupon) -> MyCoupon {
    MyCoupon {
        code: c.code.display(),
        status: match c.status {
            krug::MemberCouponStatus::Active => CouponStatus::Active,
            krug::MemberCouponStatus::Used => CouponStatus::Used,
            krug::MemberCouponStatus::Expired => CouponStatus::Expired,
        },
        rules: c.rules,
        valid_from: c.valid_from,
        valid_until: c.valid_until,
    }
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Coupons")]
impl CouponsApi {
    /// Create a coupon template (owner: at his business, funded by it; operator: any scope,
    /// funded by the ecosystem).
    #[oai(path = "/coupons/templates", method = "post", operation_id = "coupon_template_create")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        body: Json<TemplateRequest>,
    ) -> Result<Json<TemplateResponse>, ApiError> {
        let (tenant, author) = author(&auth)?;
        let new = template_from(&body, &author)?;
        let view = state.krug.create_coupon_template(tenant, &author, new).await?;
        let detail = serde_json::json!({ "template": view.template.terms.code });
        super::audit(
            &state,
            tenant,
            auth.0.actor(),
            "coupon.template_create",
            format!("coupon_template:{}", view.template.terms.code),
            detail,
            remote,
        )
        .await?;
        Ok(Json(TemplateResponse::from(view)))
    }

    /// The templates you manage (owner: your business's; operator: all), newest first, with
    /// aggregate use counts.
    #[oai(path = "/coupons/templates", method = "get", operation_id = "coupon_templates")]
    async fn list(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<TemplateResponse>>, ApiError> {
        let (tenant, author) = author(&auth)?;
        let views = state.krug.coupon_templates(tenant, &author).await?;
        Ok(Json(views.into_iter().map(TemplateResponse::from).collect()))
    }

    /// One template you manage; another business's is 404.
    #[oai(path = "/coupons/templates/:code", method = "get", operation_id = "coupon_template_get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        code: Path<String>,
    ) -> Result<Json<TemplateResponse>, ApiError> {
        let (tenant, author) = author(&auth)?;
        Ok(Json(TemplateResponse::from(state.krug.coupon_template(tenant, &author, &code.0).await?)))
    }

    /// Revoke a template: none of its codes works any more. Idempotent.
    #[oai(path = "/coupons/templates/:code/revoke", method = "post", operation_id = "coupon_template_revoke")]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        code: Path<String>,
    ) -> Result<Json<TemplateResponse>, ApiError> {
        let (tenant, author) = author(&auth)?;
        let view = state.krug.revoke_coupon_template(tenant, &author, &code.0).await?;
        super::audit(
            &state,
            tenant,
            auth.0.actor(),
            "coupon.template_revoke",
            format!("coupon_template:{}", code.0),
            serde_json::json!({}),
            remote,
        )
        .await?;
        Ok(Json(TemplateResponse::from(view)))
    }

    /// Issue single-use bearer codes of a template in bulk (up to 100,000 in one call).
    #[oai(path = "/coupons/templates/:code/codes", method = "post", operation_id = "coupon_issue_bulk")]
    async fn bulk(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        code: Path<String>,
        body: Json<BulkRequest>,
    ) -> Result<Json<BulkResponse>, ApiError> {
        let (tenant, author) = author(&auth)?;
        let batch = state.krug.issue_coupons(tenant, &author, &code.0, body.count).await?;
        let detail = serde_json::json!({ "batch": batch.batch, "count": batch.codes.len() });
        super::audit(
            &state,
            tenant,
            auth.0.actor(),
            "coupon.issue_bulk",
            format!("coupon_template:{}", code.0),
            detail,
            remote,
        )
        .await?;
        Ok(Json(BulkResponse {
            batch_id: batch.batch,
            template: batch.template,
            count: u64::try_from(batch.codes.len()).unwrap_or(u64::MAX),
            codes: batch.codes.iter().map(krug::coupon::CouponCode::display).collect(),
            valid_from: batch.valid_from,
            valid_until: batch.valid_until,
        }))
    }

    /// Create a shared promo code for a template, with its own total limit.
    #[oai(path = "/coupons/templates/:code/promo-codes", method = "post", operation_id = "coupon_promo_create")]
    async fn promo(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        code: Path<String>,
        body: Json<PromoRequest>,
    ) -> Result<Json<IssuedResponse>, ApiError> {
        let (tenant, author) = author(&auth)?;
        let promo = krug::NewPromoCode {
            template: code.0.clone(),
            code: body.code.clone().map(String::from),
            max_uses: body.max_uses,
        };
        let issued = state.krug.create_promo_code(tenant, &author, promo).await?;
        super::audit(
            &state,
            tenant,
            auth.0.actor(),
            "coupon.promo_create",
            format!("coupon_template:{}", code.0),
            serde_json::json!({ "max_uses": body.max_uses }),
            remote,
        )
        .await?;
        Ok(Json(IssuedResponse::from(issued)))
    }

    /// Issue one personal coupon of a template to a member.
    #[oai(path = "/coupons/templates/:code/issue", method = "post", operation_id = "coupon_issue_personal")]
    async fn issue(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        code: Path<String>,
        body: Json<IssueRequest>,
    ) -> Result<Json<IssuedResponse>, ApiError> {
        let (tenant, author) = author(&auth)?;
        let member = parse_id::<krug::types::MemberId>("member", &body.member_id)?;
        let issued = state.krug.issue_coupon(tenant, &author, &code.0, member).await?;
        super::audit(
            &state,
            tenant,
            auth.0.actor(),
            "coupon.issue",
            format!("member:{member}"),
            serde_json::json!({ "template": code.0 }),
            remote,
        )
        .await?;
        Ok(Json(IssuedResponse::from(issued)))
    }

    /// Preview a coupon for a purchase at your business: what it would take off or credit, or
    /// the refusal a scan would get. Nothing is written and no use is counted.
    #[oai(path = "/coupons/preview", method = "post", operation_id = "coupon_preview")]
    async fn preview(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<PreviewRequest>,
    ) -> Result<Json<PreviewResponse>, ApiError> {
        auth.0.require(&[Role::Cashier, Role::Manager, Role::Owner])?;
        let (tenant, business) = (auth.0.tenant()?, auth.0.business()?);
        let member = body.member_id.as_deref().map(|m| parse_id::<krug::types::MemberId>("member", m)).transpose()?;
        let category = body
            .category
            .as_deref()
            .map(|c| krug::types::Category::parse(c).map_err(|e| ApiError::invalid("category", e.to_string())))
            .transpose()?;
        let p = state
            .krug
            .preview_coupon(
                tenant,
                krug::PreviewCoupon {
                    code: body.code.0.clone(),
                    business: business.clone(),
                    amount: kopecks("amount_kopecks", body.amount_kopecks)?,
                    member,
                    category,
                    redeem: bonus("redeem_kopecks", body.redeem_kopecks.unwrap_or(0))?,
                },
            )
            .await?;
        Ok(Json(PreviewResponse {
            code: p.code.display(),
            template: p.template,
            discount_kopecks: p.discount.get(),
            bonus_kopecks: p.bonus.get(),
            gift: p.gift,
            charged_kopecks: p.charged.get(),
            rules: p.rules,
        }))
    }

    /// Your coupons — active, used and expired — with their rules in plain words.
    #[oai(path = "/me/coupons", method = "get", operation_id = "me_coupons", tag = "ApiTags::Member")]
    async fn mine(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<MyCoupons>, ApiError> {
        let member = auth.0.member()?;
        let tenant = auth.0.tenant()?;
        let mut out = MyCoupons { active: Vec::new(), used: Vec::new(), expired: Vec::new() };
        for c in state.krug.member_coupons(tenant, member).await? {
            let c = my(c);
            match c.status {
                CouponStatus::Active => out.active.push(c),
                CouponStatus::Used => out.used.push(c),
                CouponStatus::Expired => out.expired.push(c),
            }
        }
        Ok(Json(out))
    }
}
