//! Writing a purchase's decision: the complete write set `purchase::decide` returned, queued
//! in one fixed order and sent in one round trip (one multi-statement text on SQLite; on
//! PostgreSQL as few statements as the tables allow, see [`super::batch`]).

use time::OffsetDateTime;

use super::{BudgetEntry, Issue, NewActivation, NewRedemption, StoreError, TenantTx};
use crate::purchase::Decision;
use crate::purchase::model::NewCoupon;

impl TenantTx {
    /// Queues a personal coupon the purchase engine issued (single use, bound to its member).
    pub(crate) async fn insert_new_coupon(&mut self, c: &NewCoupon, now: OffsetDateTime) -> Result<(), StoreError> {
        let issue = Issue {
            template: &c.template,
            member: Some(c.member),
            source: c.source,
            batch: None,
            max_uses: Some(1),
            valid_from: c.valid_from,
            valid_until: c.valid_until,
        };
        self.insert_personal_coupon(&c.code, issue, now).await
    }

    /// Queues every write of `d` and sends them: the coupon's use, the purchase, offer
    /// statistics and activations (spend, badges), issued coupons, chain steps with progress and
    /// rewards, the ledger plan with the account and held status, the budget contribution, the
    /// idempotency record with the receipt, and a scan's QR claim. A refusal by the database
    /// (a receipt id or QR step claimed concurrently, a drawn coupon code that exists) is
    /// reported here as the `Conflict` naming its constraint; nothing of the decision is then
    /// committed.
    pub(crate) async fn write_decision(&mut self, d: &Decision, now: OffsetDateTime) -> Result<(), StoreError> {
        let p = &d.purchase;
        if let Some(c) = &d.coupon {
            let redemption = NewRedemption {
                id: c.id,
                code: &c.code,
                template: &c.template,
                member: p.member,
                business: &p.business,
                purchase: p.id,
                discount: c.discount,
                bonus: c.bonus,
                bonus_entry: c.bonus_entry,
                bonus_lot: c.bonus_lot,
            };
            self.insert_coupon_redemption(&redemption, now).await?;
        }
        self.insert_purchase(p, now).await?;
        for o in &d.offers {
            if let Some(fired) = &o.fired {
                self.count_offer_spend(o.offer, fired.bonus).await?;
                let coupons = serde_json::to_string(&fired.coupons).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let badges = serde_json::to_string(&fired.badges).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let activation = NewActivation {
                    purchase: p.id,
                    offer: o.offer,
                    version: o.version,
                    member: p.member,
                    business: &p.business,
                    bonus: fired.bonus,
                    entry: fired.entry,
                    lot: fired.lot,
                    coupons_json: &coupons,
                    badges_json: &badges,
                    day: &d.offer_day,
                };
                self.insert_activation(&activation, now).await?;
                for badge in &fired.badges {
                    self.award_badge(p.member, badge, o.offer, p.id, now).await?;
                }
            }
            self.add_offer_stats(o.offer, o.version, &d.offer_day, o.stats).await?;
        }
        for c in &d.coupons {
            self.insert_new_coupon(c, now).await?;
        }
        for s in &d.chain_steps {
            self.insert_chain_step(&s.step).await?;
            self.put_progress(s.step.chain, p.member, Some(&s.after), now).await?;
            for r in &s.rewards {
                self.insert_chain_reward(r).await?;
            }
        }
        self.write_plan_and_status(p.member, &d.plan, &d.account, Some(&d.held), now).await?;
        if let Some((id, amount)) = d.budget {
            let entry = BudgetEntry { kind: BudgetEntry::CONTRIBUTION, business: &p.business, purchase: p.id, amount };
            self.insert_budget_entry(id, entry, now).await?;
        }
        let response = serde_json::to_string(&d.receipt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (scope, key, hash) = &d.remember;
        self.remember(scope, key, hash, &response, now).await?;
        if let Some(step) = d.qr_step {
            self.queue_qr_claim(p.member, step, p.id, now).await?;
        }
        self.send_writes().await
    }
}
