//! Coupon templates, issued coupons and their redemptions.
//!
//! Invariants:
//! - every limit of a template's coupons (a code's uses, the template's total, per member) is
//!   decided under the template row's lock: [`TenantTx::lock_coupon_template`] takes it with
//!   `FOR UPDATE` on PostgreSQL (SQLite's write transaction holds the database lock already), and
//!   the counts are read after it;
//! - codes are stored in normal form under the unique key `(tenant_id, code)`;
//! - bulk issuance writes many rows per statement (one bind per code), all in the caller's
//!   transaction.

use time::OffsetDateTime;
use uuid::Uuid;

use super::batch::{Stmt, args};
use super::{StoreError, TenantTx, Tx, from_ts, on, parse, ts};
use crate::coupon::{Coupon, CouponCode, CouponKind, CouponScope, CouponSource, CouponTemplate, CouponTerms, Validity};
use crate::types::{Bonus, Bps, BusinessId, Category, EntryId, Kopecks, LotId, MemberId, PurchaseId};

/// A template as stored, with its use count and whether it was revoked.
#[derive(Debug, Clone)]
pub(crate) struct TemplateRow {
    pub(crate) template: CouponTemplate,
    pub(crate) uses: u32,
    pub(crate) revoked_at: Option<OffsetDateTime>,
    pub(crate) created_at: OffsetDateTime,
}

/// A coupon's use by a purchase.
#[derive(Debug, Clone)]
pub(crate) struct NewRedemption<'a> {
    pub(crate) id: Uuid,
    pub(crate) code: &'a CouponCode,
    pub(crate) template: &'a str,
    pub(crate) member: MemberId,
    pub(crate) business: &'a BusinessId,
    pub(crate) purchase: PurchaseId,
    pub(crate) discount: Kopecks,
    pub(crate) bonus: Bonus,
    pub(crate) bonus_entry: Option<EntryId>,
    pub(crate) bonus_lot: Option<LotId>,
}

/// A stored redemption, for refunds.
#[derive(Debug, Clone)]
pub(crate) struct RedemptionRow {
    pub(crate) id: Uuid,
    pub(crate) code: CouponCode,
    pub(crate) template: String,
    pub(crate) bonus: Bonus,
    pub(crate) bonus_entry: Option<EntryId>,
    pub(crate) bonus_lot: Option<LotId>,
    pub(crate) restored: bool,
}

/// Codes issued together: what they share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Issue<'a> {
    pub(crate) template: &'a str,
    pub(crate) member: Option<MemberId>,
    pub(crate) source: CouponSource,
    pub(crate) batch: Option<Uuid>,
    pub(crate) max_uses: Option<u32>,
    pub(crate) valid_from: OffsetDateTime,
    pub(crate) valid_until: OffsetDateTime,
}

/// Rows per multi-row insert: one bind per row plus nine shared ones stays far below SQLite's
/// 32,766 and PostgreSQL's 65,535 parameters.
pub(crate) const BULK_CHUNK: usize = 5_000;

const TEMPLATE_COLUMNS: &str = "template_code, name, kind, value, gift, scope_kind, scope_value, valid_from, \
     valid_until, valid_days, min_purchase, per_member_limit, global_limit, stackable, funded_by, owner_business, uses, \
     revoked_at, created_at";

/// A template row as read (more columns than sqlx's tuples take).
#[derive(sqlx::FromRow)]
struct TemplateTuple {
    template_code: String,
    name: String,
    kind: String,
    value: i64,
    gift: Option<String>,
    scope_kind: String,
    scope_value: Option<String>,
    valid_from: Option<i64>,
    valid_until: Option<i64>,
    valid_days: Option<i64>,
    min_purchase: i64,
    per_member_limit: Option<i64>,
    global_limit: Option<i64>,
    stackable: bool,
    funded_by: Option<String>,
    owner_business: Option<String>,
    uses: i64,
    revoked_at: Option<i64>,
    created_at: i64,
}

fn count(what: &str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v}")))
}

fn opt_count(what: &str, v: Option<i64>) -> Result<Option<u32>, StoreError> {
    v.map(|v| count(what, v)).transpose()
}

fn template_from(row: TemplateTuple) -> Result<TemplateRow, StoreError> {
    let TemplateTuple {
        template_code: code,
        name,
        kind,
        value,
        gift,
        scope_kind,
        scope_value,
        valid_from,
        valid_until,
        valid_days,
        min_purchase,
        per_member_limit,
        global_limit,
        stackable,
        funded_by,
        owner_business: owner,
        uses,
        revoked_at,
        created_at,
    } = row;
    let kind = match kind.as_str() {
        "percent_off" => CouponKind::PercentOff {
            rate: parse(
                "percent",
                u16::try_from(value).map_err(|e| e.to_string()).and_then(|v| Bps::new(v).map_err(|e| e.to_string())),
            )?,
        },
        "fixed_off" => CouponKind::FixedOff { amount: parse("fixed amount", Kopecks::new(value))? },
        "bonus_grant" => CouponKind::BonusGrant { amount: parse("bonus amount", Bonus::new(value))? },
        "gift" => CouponKind::Gift { description: gift.unwrap_or_default() },
        other => return Err(StoreError::Corrupt(format!("coupon kind {other}"))),
    };
    let scope = match (scope_kind.as_str(), scope_value) {
        ("business", Some(b)) => CouponScope::Business(parse("scope business", BusinessId::parse(&b))?),
        ("category", Some(c)) => CouponScope::Category(parse("scope category", Category::parse(&c))?),
        ("any", _) => CouponScope::Any,
        (other, _) => return Err(StoreError::Corrupt(format!("coupon scope {other}"))),
    };
    let validity = match (valid_from, valid_until, valid_days) {
        (Some(from), Some(until), None) => Validity::Dates { from: from_ts(from)?, until: from_ts(until)? },
        (None, None, Some(days)) => Validity::DaysFromIssue(count("valid days", days)?),
        _ => return Err(StoreError::Corrupt("coupon validity".into())),
    };
    let business = |v: Option<String>| v.map(|b| parse("business", BusinessId::parse(&b))).transpose();
    Ok(TemplateRow {
        template: CouponTemplate {
            terms: CouponTerms {
                code,
                name,
                kind,
                scope,
                validity,
                min_purchase: parse("min purchase", Kopecks::new(min_purchase))?,
                per_member_limit: opt_count("per-member limit", per_member_limit)?,
                global_limit: opt_count("global limit", global_limit)?,
                stackable,
            },
            funded_by: business(funded_by)?,
            owner: business(owner)?,
        },
        uses: count("template uses", uses)?,
        revoked_at: revoked_at.map(from_ts).transpose()?,
        created_at: from_ts(created_at)?,
    })
}

type CouponTuple = (String, String, Option<Uuid>, String, Option<i64>, i64, i64, i64, Option<i64>, Option<i64>, i64);

const COUPON_SELECT: &str = "SELECT c.code, c.template_code, c.member_id, c.source, c.max_uses, c.uses, c.valid_from, \
     c.valid_until, c.revoked_at, t.revoked_at, c.issued_at FROM coupons c JOIN coupon_templates t \
     ON t.tenant_id = c.tenant_id AND t.template_code = c.template_code";

fn coupon_from(row: CouponTuple) -> Result<Coupon, StoreError> {
    let (code, template, member, source, max_uses, uses, from, until, revoked, template_revoked, issued) = row;
    Ok(Coupon {
        code: parse("coupon code", CouponCode::normalise(&code))?,
        template,
        member: member.map(MemberId::from_uuid),
        source: CouponSource::parse(&source).ok_or_else(|| StoreError::Corrupt(format!("coupon source {source}")))?,
        max_uses: opt_count("max uses", max_uses)?,
        uses: count("coupon uses", uses)?,
        valid_from: from_ts(from)?,
        valid_until: from_ts(until)?,
        revoked: revoked.is_some() || template_revoked.is_some(),
        issued_at: from_ts(issued)?,
    })
}

/// The multi-row insert for `rows` codes: `$1…$9` are shared, `$10…` one code each.
fn bulk_sql(rows: usize) -> String {
    let mut sql = String::with_capacity(200 + rows * 48);
    sql.push_str(
        "INSERT INTO coupons (tenant_id, code, template_code, member_id, source, batch_id, max_uses, uses, \
         valid_from, valid_until, issued_at) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!("($1, ${}, $2, $3, $4, $5, $6, 0, $7, $8, $9)", i + 10));
    }
    sql.push_str(" ON CONFLICT (tenant_id, code) DO NOTHING");
    sql
}

const INSERT_REDEMPTION: Stmt = Stmt::insert(
    "coupon_redemptions",
    "INSERT INTO coupon_redemptions (tenant_id, redemption_id, code, template_code, member_id, business_id, \
     purchase_id, discount, bonus, bonus_entry_id, bonus_lot_id, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
);

const COUNT_TEMPLATE_USE: Stmt = Stmt::update(
    "coupon_templates",
    "UPDATE coupon_templates SET uses = uses + $3 WHERE tenant_id = $1 AND template_code = $2",
);

const COUNT_CODE_USE: Stmt =
    Stmt::update("coupons", "UPDATE coupons SET uses = uses + $3 WHERE tenant_id = $1 AND code = $2");

const INSERT_PERSONAL_COUPON: Stmt = Stmt::insert(
    "coupons",
    "INSERT INTO coupons (tenant_id, code, template_code, member_id, source, batch_id, max_uses, uses, \
     valid_from, valid_until, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10)",
);

impl TenantTx {
    /// Inserts a template; an existing code is a `Conflict`.
    pub(crate) async fn insert_coupon_template(
        &mut self,
        t: &CouponTemplate,
        created_by: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let (funded_by, owner, t) = (&t.funded_by, &t.owner, &t.terms);
        let (value, gift) = match &t.kind {
            CouponKind::PercentOff { rate } => (i64::from(rate.get()), None),
            CouponKind::FixedOff { amount } => (amount.get(), None),
            CouponKind::BonusGrant { amount } => (amount.get(), None),
            CouponKind::Gift { description } => (0, Some(description.as_str())),
        };
        let (scope_kind, scope_value) = match &t.scope {
            CouponScope::Business(b) => ("business", Some(b.as_str())),
            CouponScope::Category(c) => ("category", Some(c.as_str())),
            CouponScope::Any => ("any", None),
        };
        let (from, until, days) = match t.validity {
            Validity::Dates { from, until } => (Some(ts(from)), Some(ts(until)), None),
            Validity::DaysFromIssue(d) => (None, None, Some(i64::from(d))),
        };
        on!(self, c => sqlx::query(
            "INSERT INTO coupon_templates (tenant_id, template_code, name, kind, value, gift, scope_kind, scope_value, \
             valid_from, valid_until, valid_days, min_purchase, per_member_limit, global_limit, stackable, funded_by, \
             owner_business, uses, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 0, $18, $19)",
        )
        .bind(&tenant)
        .bind(&t.code)
        .bind(&t.name)
        .bind(t.kind.as_str())
        .bind(value)
        .bind(gift)
        .bind(scope_kind)
        .bind(scope_value)
        .bind(from)
        .bind(until)
        .bind(days)
        .bind(t.min_purchase.get())
        .bind(t.per_member_limit.map(i64::from))
        .bind(t.global_limit.map(i64::from))
        .bind(t.stackable)
        .bind(funded_by.as_ref().map(BusinessId::as_str))
        .bind(owner.as_ref().map(BusinessId::as_str))
        .bind(created_by)
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The template, without locking.
    pub(crate) async fn coupon_template(&mut self, code: &str) -> Result<Option<TemplateRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql =
            format!("SELECT {TEMPLATE_COLUMNS} FROM coupon_templates WHERE tenant_id = $1 AND template_code = $2");
        let row: Option<TemplateTuple> = on!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&tenant)
            .bind(code)
            .fetch_optional(c)
            .await)?;
        row.map(template_from).transpose()
    }

    /// The template, locked for the rest of the transaction: concurrent uses of its coupons run
    /// one after another, so the counts read after this decide every limit correctly.
    pub(crate) async fn lock_coupon_template(&mut self, code: &str) -> Result<Option<TemplateRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let base =
            format!("SELECT {TEMPLATE_COLUMNS} FROM coupon_templates WHERE tenant_id = $1 AND template_code = $2");
        let row: Option<TemplateTuple> = match self.flushed().await? {
            // The SQLite write transaction already holds the database's write lock.
            Tx::Sqlite(t) => {
                sqlx::query_as(sqlx::AssertSqlSafe(base)).bind(&tenant).bind(code).fetch_optional(&mut **t).await?
            }
            Tx::Postgres(t) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{base} FOR UPDATE")))
                    .bind(&tenant)
                    .bind(code)
                    .fetch_optional(&mut **t)
                    .await?
            }
        };
        row.map(template_from).transpose()
    }

    /// Templates, newest first: all of them, or those a business's owner created.
    pub(crate) async fn coupon_templates(
        &mut self,
        owner: Option<&BusinessId>,
    ) -> Result<Vec<TemplateRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql = format!(
            "SELECT {TEMPLATE_COLUMNS} FROM coupon_templates WHERE tenant_id = $1 \
             AND ($2 IS NULL OR owner_business = $2) ORDER BY created_at DESC, template_code LIMIT 1000"
        );
        let rows: Vec<TemplateTuple> = on!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&tenant)
            .bind(owner.map(BusinessId::as_str))
            .fetch_all(c)
            .await)?;
        rows.into_iter().map(template_from).collect()
    }

    /// Revokes a template (its coupons stop working); revoking twice keeps the first time.
    pub(crate) async fn revoke_coupon_template(&mut self, code: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "UPDATE coupon_templates SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND template_code = $2",
        )
        .bind(&tenant)
        .bind(code)
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Inserts codes sharing `issue`, many per statement. Returns how many were new: a code that
    /// already exists is skipped (the caller draws another).
    pub(crate) async fn insert_coupons(
        &mut self,
        issue: Issue<'_>,
        codes: &[CouponCode],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let mut inserted = 0;
        let full = bulk_sql(BULK_CHUNK.min(codes.len()));
        for chunk in codes.chunks(BULK_CHUNK) {
            let sql = if chunk.len() == BULK_CHUNK.min(codes.len()) { full.clone() } else { bulk_sql(chunk.len()) };
            let done = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(&tenant)
                    .bind(issue.template)
                    .bind(issue.member.map(|m| m.as_uuid()))
                    .bind(issue.source.as_str())
                    .bind(issue.batch)
                    .bind(issue.max_uses.map(i64::from))
                    .bind(ts(issue.valid_from))
                    .bind(ts(issue.valid_until))
                    .bind(ts(now));
                for code in chunk {
                    q = q.bind(code.as_str());
                }
                q.execute(c).await.map(|r| r.rows_affected())
            })?;
            inserted += done;
        }
        Ok(inserted)
    }

    /// The codes of a batch, in code order.
    pub(crate) async fn batch_codes(&mut self, batch: Uuid) -> Result<Vec<CouponCode>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(String,)> = on!(self, c => sqlx::query_as(
            "SELECT code FROM coupons WHERE tenant_id = $1 AND batch_id = $2 ORDER BY code",
        )
        .bind(&tenant)
        .bind(batch)
        .fetch_all(c)
        .await)?;
        rows.into_iter().map(|(code,)| parse("coupon code", CouponCode::normalise(&code))).collect()
    }

    /// The coupon with this code (revoked when it or its template is).
    pub(crate) async fn coupon(&mut self, code: &CouponCode) -> Result<Option<Coupon>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql = format!("{COUPON_SELECT} WHERE c.tenant_id = $1 AND c.code = $2");
        let row: Option<CouponTuple> = on!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&tenant)
            .bind(code.as_str())
            .fetch_optional(c)
            .await)?;
        row.map(coupon_from).transpose()
    }

    /// The member's coupons — those bound to her and those she used — newest first, each with
    /// how often she used it (restored uses excluded).
    pub(crate) async fn member_coupons(&mut self, member: MemberId) -> Result<Vec<(Coupon, u32)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let used: Vec<(String, i64)> = on!(self, c => sqlx::query_as(
            "SELECT code, COUNT(*) FROM coupon_redemptions WHERE tenant_id = $1 AND member_id = $2 \
             AND restored_at IS NULL GROUP BY code",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .fetch_all(c)
        .await)?;
        let sql = format!(
            "{COUPON_SELECT} WHERE c.tenant_id = $1 AND (c.member_id = $2 OR c.code IN \
             (SELECT r.code FROM coupon_redemptions r WHERE r.tenant_id = $1 AND r.member_id = $2)) \
             ORDER BY c.issued_at DESC, c.code LIMIT 500"
        );
        let rows: Vec<CouponTuple> = on!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&tenant)
            .bind(member.as_uuid())
            .fetch_all(c)
            .await)?;
        rows.into_iter()
            .map(|row| {
                let coupon = coupon_from(row)?;
                let n = used.iter().find(|(code, _)| code == coupon.code.as_str()).map_or(0, |(_, n)| *n);
                Ok((coupon, count("member code uses", n)?))
            })
            .collect()
    }

    /// How often the member used this template's coupons (restored uses excluded).
    pub(crate) async fn member_template_uses(&mut self, member: MemberId, template: &str) -> Result<u32, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let (n,): (i64,) = on!(self, c => sqlx::query_as(
            "SELECT COUNT(*) FROM coupon_redemptions WHERE tenant_id = $1 AND template_code = $2 AND member_id = $3 \
             AND restored_at IS NULL",
        )
        .bind(&tenant)
        .bind(template)
        .bind(member.as_uuid())
        .fetch_one(c)
        .await)?;
        count("member uses", n)
    }

    /// Records a coupon's use by a purchase and counts it on the code and the template (deferred).
    pub(crate) async fn insert_coupon_redemption(
        &mut self,
        r: &NewRedemption<'_>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        self.defer(
            INSERT_REDEMPTION,
            args![
                &tenant,
                r.id,
                r.code.as_str(),
                r.template,
                r.member.as_uuid(),
                r.business.as_str(),
                r.purchase.as_uuid(),
                r.discount.get(),
                r.bonus.get(),
                r.bonus_entry.map(|e| e.as_uuid()),
                r.bonus_lot.map(|l| l.as_uuid()),
                ts(now),
            ],
        )
        .await?;
        self.count_coupon_use(r.code, r.template, 1).await
    }

    /// Adds `delta` (±1) to the template's and the code's use counts (deferred) — the template
    /// row first, the order every writer takes them in (a scan holds the template's lock before
    /// it touches the code), so a refund and a scan of the same promo code cannot deadlock.
    async fn count_coupon_use(&mut self, code: &CouponCode, template: &str, delta: i64) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        self.defer(COUNT_TEMPLATE_USE, args![&tenant, template, delta]).await?;
        self.defer(COUNT_CODE_USE, args![&tenant, code.as_str(), delta]).await
    }

    /// Inserts one personal coupon (deferred); a code that already exists is a `Conflict` on
    /// `coupons`, and the command that drew it runs again with a new code.
    pub(crate) async fn insert_personal_coupon(
        &mut self,
        code: &CouponCode,
        issue: Issue<'_>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        self.defer(
            INSERT_PERSONAL_COUPON,
            args![
                &tenant,
                code.as_str(),
                issue.template,
                issue.member.map(|m| m.as_uuid()),
                issue.source.as_str(),
                issue.batch,
                issue.max_uses.map(i64::from),
                ts(issue.valid_from),
                ts(issue.valid_until),
                ts(now),
            ],
        )
        .await
    }

    /// The coupon use of a purchase, if any.
    pub(crate) async fn coupon_redemption_of(
        &mut self,
        purchase: PurchaseId,
    ) -> Result<Option<RedemptionRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        type Row = (Uuid, String, String, i64, Option<Uuid>, Option<Uuid>, Option<i64>);
        let row: Option<Row> = on!(self, c => sqlx::query_as(
            "SELECT redemption_id, code, template_code, bonus, bonus_entry_id, bonus_lot_id, restored_at \
             FROM coupon_redemptions WHERE tenant_id = $1 AND purchase_id = $2",
        )
        .bind(&tenant)
        .bind(purchase.as_uuid())
        .fetch_optional(c)
        .await)?;
        row.map(|(id, code, template, bonus, entry, lot, restored)| {
            Ok(RedemptionRow {
                id,
                code: parse("coupon code", CouponCode::normalise(&code))?,
                template,
                bonus: parse("coupon bonus", Bonus::new(bonus))?,
                bonus_entry: entry.map(EntryId::from_uuid),
                bonus_lot: lot.map(LotId::from_uuid),
                restored: restored.is_some(),
            })
        })
        .transpose()
    }

    /// Gives a redemption's use back to its code and template (a refunded purchase).
    pub(crate) async fn restore_coupon_redemption(
        &mut self,
        r: &RedemptionRow,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "UPDATE coupon_redemptions SET restored_at = $3 WHERE tenant_id = $1 AND redemption_id = $2",
        )
        .bind(&tenant)
        .bind(r.id)
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        self.count_coupon_use(&r.code, &r.template, -1).await
    }
}
