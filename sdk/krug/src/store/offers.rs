//! Offers, their versions, budget counters, activations, per-day statistics and member badges.
//! Rules and examples are stored as JSON text (validated before they are written); the engine's
//! counters are plain integer columns so a scan can lock and read them in one statement.

use time::OffsetDateTime;
use uuid::Uuid;

use super::batch::{Stmt, args};
use super::{StoreError, TenantTx, from_ts, on, parse, ts};
use crate::offer::policy::Usage;
use crate::types::{Bonus, BusinessId, EntryId, LotId, MemberId, OfferId, PurchaseId};

/// An offer row.
#[derive(Debug, Clone)]
pub(crate) struct OfferRow {
    pub(crate) id: OfferId,
    pub(crate) business: BusinessId,
    pub(crate) name: String,
    pub(crate) latest_version: i64,
    pub(crate) running_version: Option<i64>,
    pub(crate) paused: bool,
    pub(crate) archived: bool,
    pub(crate) spent: Bonus,
    pub(crate) activations: i64,
    pub(crate) created_at: OffsetDateTime,
}

/// A version row.
#[derive(Debug, Clone)]
pub(crate) struct VersionRow {
    pub(crate) version: i64,
    pub(crate) status: String,
    pub(crate) script: String,
    pub(crate) rules_json: String,
    pub(crate) examples_json: String,
    pub(crate) template: Option<String>,
    pub(crate) reviewed_by: Option<String>,
    pub(crate) review_reason: Option<String>,
    pub(crate) updated_at: OffsetDateTime,
}

/// A version to write.
pub(crate) struct NewVersion<'a> {
    pub(crate) offer: OfferId,
    pub(crate) version: i64,
    pub(crate) script: &'a str,
    pub(crate) rules_json: &'a str,
    pub(crate) examples_json: &'a str,
    pub(crate) template: Option<&'a str>,
}

/// An offer that runs on purchases now (its running version, not paused or archived).
#[derive(Debug, Clone)]
pub(crate) struct RunningRow {
    pub(crate) id: OfferId,
    pub(crate) version: i64,
    pub(crate) script: String,
    pub(crate) rules_json: String,
}

/// One offer fired on a purchase.
pub(crate) struct NewActivation<'a> {
    pub(crate) purchase: PurchaseId,
    pub(crate) offer: OfferId,
    pub(crate) version: i64,
    pub(crate) member: MemberId,
    pub(crate) business: &'a BusinessId,
    pub(crate) bonus: Bonus,
    pub(crate) entry: Option<EntryId>,
    pub(crate) lot: Option<LotId>,
    pub(crate) coupons_json: &'a str,
    pub(crate) badges_json: &'a str,
    pub(crate) day: &'a str,
}

/// Deltas to add to one `(offer, version, day)` statistics row.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StatDelta {
    pub(crate) matched: i64,
    pub(crate) revenue: i64,
    pub(crate) activations: i64,
    pub(crate) bonus: i64,
    pub(crate) failures: i64,
}

/// One statistics row: version, day, then the counters.
pub(crate) type StatRow = (i64, String, i64, i64, i64, i64, i64);

/// A purchase as a backtest replays it.
pub(crate) struct ReplayRow {
    pub(crate) member: MemberId,
    pub(crate) category: String,
    pub(crate) amount: i64,
    pub(crate) redeemed: i64,
    pub(crate) accrued: i64,
    pub(crate) at: i64,
    pub(crate) joined_at: i64,
    pub(crate) tier: Option<String>,
}

type OfferTuple = (Uuid, String, String, i64, Option<i64>, i64, i64, i64, i64, i64);
const OFFER_COLUMNS: &str = "offer_id, business_id, name, latest_version, running_version, paused, archived, spent, \
                             activations, created_at";

fn offer_from(row: OfferTuple) -> Result<OfferRow, StoreError> {
    let (id, business, name, latest_version, running_version, paused, archived, spent, activations, created_at) = row;
    Ok(OfferRow {
        id: OfferId::from_uuid(id),
        business: parse("business", BusinessId::parse(&business))?,
        name,
        latest_version,
        running_version,
        paused: paused != 0,
        archived: archived != 0,
        spent: parse("spent", Bonus::new(spent))?,
        activations,
        created_at: from_ts(created_at)?,
    })
}

type VersionTuple = (i64, String, String, String, String, Option<String>, Option<String>, Option<String>, i64);

fn version_from(row: VersionTuple) -> Result<VersionRow, StoreError> {
    let (version, status, script, rules_json, examples_json, template, reviewed_by, review_reason, updated_at) = row;
    Ok(VersionRow {
        version,
        status,
        script,
        rules_json,
        examples_json,
        template,
        reviewed_by,
        review_reason,
        updated_at: from_ts(updated_at)?,
    })
}

const COUNT_OFFER_SPEND: Stmt = Stmt::update(
    "offers",
    "UPDATE offers SET spent = spent + $3, activations = activations + 1 WHERE tenant_id = $1 AND offer_id = $2",
);

const INSERT_ACTIVATION: Stmt = Stmt::insert(
    "offer_activations",
    "INSERT INTO offer_activations (tenant_id, purchase_id, offer_id, version, member_id, business_id, bonus, \
     entry_id, lot_id, coupons_json, badges_json, day, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
);

const ADD_OFFER_STATS: Stmt = Stmt::update(
    "offer_stats",
    "INSERT INTO offer_stats (tenant_id, offer_id, version, day, matched, revenue, activations, bonus, failures) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (tenant_id, offer_id, version, day) DO UPDATE SET \
       matched = offer_stats.matched + excluded.matched, revenue = offer_stats.revenue + excluded.revenue, \
       activations = offer_stats.activations + excluded.activations, bonus = offer_stats.bonus + excluded.bonus, \
       failures = offer_stats.failures + excluded.failures",
);

const AWARD_BADGE: Stmt = Stmt::update(
    "member_badges",
    "INSERT INTO member_badges (tenant_id, member_id, code, offer_id, purchase_id, awarded_at) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, member_id, code) DO NOTHING",
);

impl TenantTx {
    /// Inserts a new offer with its first version number.
    pub(crate) async fn insert_offer(
        &mut self,
        id: OfferId,
        business: &BusinessId,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO offers (tenant_id, offer_id, business_id, name, latest_version, running_version, paused, \
             archived, spent, activations, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, NULL, 0, 0, 0, 0, $5, $5)",
        )
        .bind(&tenant)
        .bind(id.as_uuid())
        .bind(business.as_str())
        .bind(name)
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The offer, locked for the rest of the transaction on PostgreSQL (on SQLite the write
    /// transaction holds the database lock): lifecycle changes and budget checks read it here.
    pub(crate) async fn lock_offer(&mut self, id: OfferId) -> Result<OfferRow, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<OfferTuple> = match self.flushed().await? {
            super::Tx::Sqlite(t) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {OFFER_COLUMNS} FROM offers WHERE tenant_id = $1 AND offer_id = $2"
                )))
                .bind(&tenant)
                .bind(id.as_uuid())
                .fetch_optional(&mut **t)
                .await?
            }
            super::Tx::Postgres(t) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {OFFER_COLUMNS} FROM offers WHERE tenant_id = $1 AND offer_id = $2 FOR UPDATE"
                )))
                .bind(&tenant)
                .bind(id.as_uuid())
                .fetch_optional(&mut **t)
                .await?
            }
        };
        offer_from(row.ok_or(StoreError::NotFound)?)
    }

    /// The business's offers (every business's with `None`), newest first.
    pub(crate) async fn offers_of(&mut self, business: Option<&BusinessId>) -> Result<Vec<OfferRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<OfferTuple> = on!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {OFFER_COLUMNS} FROM offers WHERE tenant_id = $1 AND ($2 IS NULL OR business_id = $2) \
             ORDER BY created_at DESC, offer_id DESC"
        )))
        .bind(&tenant)
        .bind(business.map(BusinessId::as_str))
        .fetch_all(c)
        .await)?;
        rows.into_iter().map(offer_from).collect()
    }

    /// Offers with a version in `status` (the operator's review queue), oldest first.
    pub(crate) async fn offers_with_version_status(&mut self, status: &str) -> Result<Vec<OfferRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<OfferTuple> = on!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {OFFER_COLUMNS} FROM offers o WHERE tenant_id = $1 AND EXISTS (SELECT 1 FROM offer_versions v \
             WHERE v.tenant_id = o.tenant_id AND v.offer_id = o.offer_id AND v.status = $2) ORDER BY created_at, offer_id"
        )))
        .bind(&tenant)
        .bind(status)
        .fetch_all(c)
        .await)?;
        rows.into_iter().map(offer_from).collect()
    }

    /// Writes the offer's lifecycle fields.
    pub(crate) async fn update_offer(&mut self, o: &OfferRow, now: OffsetDateTime) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "UPDATE offers SET name = $3, latest_version = $4, running_version = $5, paused = $6, archived = $7, \
             updated_at = $8 WHERE tenant_id = $1 AND offer_id = $2",
        )
        .bind(&tenant)
        .bind(o.id.as_uuid())
        .bind(&o.name)
        .bind(o.latest_version)
        .bind(o.running_version)
        .bind(i64::from(o.paused))
        .bind(i64::from(o.archived))
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Writes a draft version: inserts it, or replaces its content while it is still a draft
    /// (drafts are the only mutable versions; a submitted or decided one is left as it was).
    pub(crate) async fn put_draft_version(
        &mut self,
        v: &NewVersion<'_>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO offer_versions (tenant_id, offer_id, version, status, script, rules_json, examples_json, \
             template, reviewed_by, review_reason, created_at, updated_at) \
             VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, NULL, NULL, $8, $8) \
             ON CONFLICT (tenant_id, offer_id, version) DO UPDATE SET script = excluded.script, \
               rules_json = excluded.rules_json, examples_json = excluded.examples_json, \
               template = excluded.template, updated_at = excluded.updated_at \
             WHERE offer_versions.status = 'draft'",
        )
        .bind(&tenant)
        .bind(v.offer.as_uuid())
        .bind(v.version)
        .bind(v.script)
        .bind(v.rules_json)
        .bind(v.examples_json)
        .bind(v.template)
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Moves a version to `status`, with the reviewer and reason when an operator decided.
    pub(crate) async fn set_version_status(
        &mut self,
        offer: OfferId,
        version: i64,
        status: &str,
        review: Option<(&str, Option<&str>)>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "UPDATE offer_versions SET status = $4, reviewed_by = COALESCE($5, reviewed_by), \
             review_reason = COALESCE($6, review_reason), updated_at = $7 \
             WHERE tenant_id = $1 AND offer_id = $2 AND version = $3",
        )
        .bind(&tenant)
        .bind(offer.as_uuid())
        .bind(version)
        .bind(status)
        .bind(review.map(|r| r.0))
        .bind(review.and_then(|r| r.1))
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Every version of the offer, newest first.
    pub(crate) async fn offer_versions(&mut self, offer: OfferId) -> Result<Vec<VersionRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<VersionTuple> = on!(self, c => sqlx::query_as(
            "SELECT version, status, script, rules_json, examples_json, template, reviewed_by, review_reason, updated_at \
             FROM offer_versions WHERE tenant_id = $1 AND offer_id = $2 ORDER BY version DESC",
        )
        .bind(&tenant)
        .bind(offer.as_uuid())
        .fetch_all(c)
        .await)?;
        rows.into_iter().map(version_from).collect()
    }

    /// The offers that run on the business's purchases now, with their running version.
    pub(crate) async fn running_offers(&mut self, business: &BusinessId) -> Result<Vec<RunningRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(Uuid, i64, String, String)> = on!(self, c => sqlx::query_as(
            "SELECT o.offer_id, v.version, v.script, v.rules_json FROM offers o JOIN offer_versions v \
               ON v.tenant_id = o.tenant_id AND v.offer_id = o.offer_id AND v.version = o.running_version \
             WHERE o.tenant_id = $1 AND o.business_id = $2 AND o.paused = 0 AND o.archived = 0 ORDER BY o.offer_id",
        )
        .bind(&tenant)
        .bind(business.as_str())
        .fetch_all(c)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(id, version, script, rules_json)| RunningRow {
                id: OfferId::from_uuid(id),
                version,
                script,
                rules_json,
            })
            .collect())
    }

    /// The member's purchases at the business so far: count, net spend, the last one's time.
    pub(crate) async fn visits_at(
        &mut self,
        member: MemberId,
        business: &BusinessId,
    ) -> Result<(i64, i64, Option<i64>), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: (i64, i64, Option<i64>) = on!(self, c => sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(amount - refunded), 0) AS BIGINT), MAX(purchased_at) \
             FROM purchases WHERE tenant_id = $1 AND member_id = $2 AND business_id = $3",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .bind(business.as_str())
        .fetch_one(c)
        .await)?;
        Ok(row)
    }

    /// What each of `offers` has used: its total spend (read under its row lock on PostgreSQL
    /// when `lock` — on SQLite the write transaction holds the database lock), what it gave today
    /// (all versions) and what it gave this member so far, by offer id. Two statements on
    /// PostgreSQL when locking (the usage must be read by a statement that starts after the lock
    /// is held), one otherwise.
    pub(crate) async fn offer_usages(
        &mut self,
        offers: &[OfferId],
        member: MemberId,
        day: &str,
        lock: bool,
    ) -> Result<Vec<(OfferId, Usage)>, StoreError> {
        if offers.is_empty() {
            return Ok(Vec::new());
        }
        let tenant = self.tenant_str().to_owned();
        let list = (0..offers.len()).map(|i| format!("${}", i + 4)).collect::<Vec<_>>().join(", ");
        if lock && matches!(self.flushed().await?, super::Tx::Postgres(_)) {
            // Locked in offer-id order, the order every purchase takes them in: no deadlock.
            let ids = (0..offers.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT offer_id FROM offers WHERE tenant_id = $1 AND offer_id IN ({ids}) ORDER BY offer_id FOR UPDATE"
            );
            let _locked: Vec<(Uuid,)> = on!(self, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(&tenant);
                for o in offers {
                    q = q.bind(o.as_uuid());
                }
                q.fetch_all(c).await
            })?;
        }
        let sql = format!(
            "SELECT o.offer_id, o.spent, \
               CAST(COALESCE((SELECT SUM(s.bonus) FROM offer_stats s WHERE s.tenant_id = $1 AND s.offer_id = o.offer_id AND s.day = $3), 0) AS BIGINT), \
               CAST((SELECT COUNT(*) FROM offer_activations a WHERE a.tenant_id = $1 AND a.offer_id = o.offer_id AND a.member_id = $2) AS BIGINT), \
               CAST(COALESCE((SELECT SUM(a.bonus) FROM offer_activations a WHERE a.tenant_id = $1 AND a.offer_id = o.offer_id AND a.member_id = $2), 0) AS BIGINT) \
             FROM offers o WHERE o.tenant_id = $1 AND o.offer_id IN ({list}) ORDER BY o.offer_id"
        );
        let rows: Vec<(Uuid, i64, i64, i64, i64)> = on!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(&tenant).bind(member.as_uuid()).bind(day);
            for o in offers {
                q = q.bind(o.as_uuid());
            }
            q.fetch_all(c).await
        })?;
        rows.into_iter()
            .map(|(id, spent, today, count, bonus)| {
                Ok((
                    OfferId::from_uuid(id),
                    Usage {
                        spent: parse("offer spent", Bonus::new(spent))?,
                        today: parse("offer today", Bonus::new(today))?,
                        member_count: u32::try_from(count).unwrap_or(u32::MAX),
                        member_bonus: parse("offer member bonus", Bonus::new(bonus))?,
                    },
                ))
            })
            .collect()
    }

    /// Adds one activation and its bonus to the offer's counters (deferred).
    pub(crate) async fn count_offer_spend(&mut self, offer: OfferId, bonus: Bonus) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        self.defer(COUNT_OFFER_SPEND, args![&tenant, offer.as_uuid(), bonus.get()]).await
    }

    /// Records an offer fired on a purchase (deferred).
    pub(crate) async fn insert_activation(
        &mut self,
        a: &NewActivation<'_>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        self.defer(
            INSERT_ACTIVATION,
            args![
                &tenant,
                a.purchase.as_uuid(),
                a.offer.as_uuid(),
                a.version,
                a.member.as_uuid(),
                a.business.as_str(),
                a.bonus.get(),
                a.entry.map(|e| e.as_uuid()),
                a.lot.map(|l| l.as_uuid()),
                a.coupons_json,
                a.badges_json,
                a.day,
                ts(now),
            ],
        )
        .await
    }

    /// Adds `d` to the `(offer, version, day)` statistics row, creating it when missing (deferred).
    pub(crate) async fn add_offer_stats(
        &mut self,
        offer: OfferId,
        version: i64,
        day: &str,
        d: StatDelta,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        self.defer(
            ADD_OFFER_STATS,
            args![&tenant, offer.as_uuid(), version, day, d.matched, d.revenue, d.activations, d.bonus, d.failures],
        )
        .await
    }

    /// The offer's statistics rows, by version then day.
    pub(crate) async fn offer_stats(&mut self, offer: OfferId) -> Result<Vec<StatRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<StatRow> = on!(self, c => sqlx::query_as(
            "SELECT version, day, matched, revenue, activations, bonus, failures FROM offer_stats \
             WHERE tenant_id = $1 AND offer_id = $2 ORDER BY version, day",
        )
        .bind(&tenant)
        .bind(offer.as_uuid())
        .fetch_all(c)
        .await)?;
        Ok(rows)
    }

    /// Distinct members the offer reached, per version and day.
    pub(crate) async fn offer_reach(&mut self, offer: OfferId) -> Result<Vec<(i64, String, i64)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(i64, String, i64)> = on!(self, c => sqlx::query_as(
            "SELECT version, day, CAST(COUNT(DISTINCT member_id) AS BIGINT) FROM offer_activations \
             WHERE tenant_id = $1 AND offer_id = $2 GROUP BY version, day",
        )
        .bind(&tenant)
        .bind(offer.as_uuid())
        .fetch_all(c)
        .await)?;
        Ok(rows)
    }

    /// The offer credits a purchase earned: `(bonus, entry, lot)` per activation with bonus.
    pub(crate) async fn offer_credits(
        &mut self,
        purchase: PurchaseId,
    ) -> Result<Vec<(Bonus, EntryId, LotId)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(i64, Uuid, Uuid)> = on!(self, c => sqlx::query_as(
            "SELECT bonus, entry_id, lot_id FROM offer_activations WHERE tenant_id = $1 AND purchase_id = $2 \
             AND entry_id IS NOT NULL AND lot_id IS NOT NULL ORDER BY offer_id",
        )
        .bind(&tenant)
        .bind(purchase.as_uuid())
        .fetch_all(c)
        .await)?;
        rows.into_iter()
            .map(|(b, e, l)| Ok((parse("offer bonus", Bonus::new(b))?, EntryId::from_uuid(e), LotId::from_uuid(l))))
            .collect()
    }

    /// Gives the member a badge once; awarding it again changes nothing (deferred).
    pub(crate) async fn award_badge(
        &mut self,
        member: MemberId,
        code: &str,
        offer: OfferId,
        purchase: PurchaseId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        self.defer(AWARD_BADGE, args![&tenant, member.as_uuid(), code, offer.as_uuid(), purchase.as_uuid(), ts(now)])
            .await
    }

    /// The member's badges, oldest first: `(code, awarded at)`.
    pub(crate) async fn badges(&mut self, member: MemberId) -> Result<Vec<(String, OffsetDateTime)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(String, i64)> = on!(self, c => sqlx::query_as(
            "SELECT code, awarded_at FROM member_badges WHERE tenant_id = $1 AND member_id = $2 ORDER BY awarded_at, code",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .fetch_all(c)
        .await)?;
        rows.into_iter().map(|(code, at)| Ok((code, from_ts(at)?))).collect()
    }

    /// The business's purchases at or after `since`, oldest first, with what a backtest needs.
    pub(crate) async fn replay_purchases(
        &mut self,
        business: &BusinessId,
        since: OffsetDateTime,
    ) -> Result<Vec<ReplayRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        type Row = (Uuid, String, i64, i64, i64, i64, i64, Option<String>);
        let rows: Vec<Row> = on!(self, c => sqlx::query_as(
            "SELECT p.member_id, p.category, p.amount, p.redeemed, p.accrued, p.purchased_at, m.created_at, a.earned_tier \
             FROM purchases p JOIN members m ON m.tenant_id = p.tenant_id AND m.member_id = p.member_id \
             LEFT JOIN accounts a ON a.tenant_id = p.tenant_id AND a.member_id = p.member_id \
             WHERE p.tenant_id = $1 AND p.business_id = $2 AND p.purchased_at >= $3 \
             ORDER BY p.purchased_at, p.purchase_id",
        )
        .bind(&tenant)
        .bind(business.as_str())
        .bind(ts(since))
        .fetch_all(c)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(member, category, amount, redeemed, accrued, at, joined_at, tier)| ReplayRow {
                member: MemberId::from_uuid(member),
                category,
                amount,
                redeemed,
                accrued,
                at,
                joined_at,
                tier,
            })
            .collect())
    }

    /// Per member, purchases at the business before `before`: count, net spend, last time.
    pub(crate) async fn visits_before(
        &mut self,
        business: &BusinessId,
        before: OffsetDateTime,
    ) -> Result<Vec<(MemberId, i64, i64, i64)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(Uuid, i64, i64, i64)> = on!(self, c => sqlx::query_as(
            "SELECT member_id, CAST(COUNT(*) AS BIGINT), CAST(SUM(amount - refunded) AS BIGINT), MAX(purchased_at) \
             FROM purchases WHERE tenant_id = $1 AND business_id = $2 AND purchased_at < $3 GROUP BY member_id",
        )
        .bind(&tenant)
        .bind(business.as_str())
        .bind(ts(before))
        .fetch_all(c)
        .await)?;
        Ok(rows.into_iter().map(|(m, n, s, l)| (MemberId::from_uuid(m), n, s, l)).collect())
    }
}
