//! Offers: authoring (from a script or a template), the approval lifecycle, dry runs, analytics
//! and badges. Running offers on purchases, refunds and backtests are in `offer_runs`.
//!
//! Invariants:
//! - a script is compiled when it is saved: an invalid script is never stored;
//! - only the latest version of an offer can change; a draft changes in place, any other version
//!   is immutable — editing it makes a new draft version (a submitted one is withdrawn), and the
//!   approved version keeps running until a newer one is approved;
//! - staff of one business never read or change another business's offers: such an id answers
//!   [`Error::OfferNotFound`];
//! - approve, reject, pause, resume and archive each write an audit record in their transaction.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Krug;
use super::purchases::not_found;
use crate::error::{Error, Result};
use crate::offer::{
    BusinessFacts, Effects, Facts, MemberFacts, OfferExample, OfferLimits, OfferRules, PurchaseFacts, Sandbox,
    ScriptFailure, Template, policy,
};
use crate::store::{NewVersion, OfferRow, StoreError, TenantTx, VersionRow};
use crate::tenant::TenantConfig;
use crate::types::{Bonus, BusinessId, MemberId, OfferId, TenantId};

const NAME_MAX_CHARS: usize = 120;
const REASON_MAX_CHARS: usize = 500;
const MAX_EXAMPLES: usize = 50;

/// Compiled scripts and configured engines, shared by every command of a [`Krug`] handle.
pub(super) struct OfferCache {
    sandboxes: moka::sync::Cache<OfferLimits, Arc<Sandbox>>,
    asts: moka::sync::Cache<(TenantId, OfferId, i64), Arc<rhai::AST>>,
}

impl OfferCache {
    pub(super) fn new() -> OfferCache {
        OfferCache { sandboxes: moka::sync::Cache::new(64), asts: moka::sync::Cache::new(10_000) }
    }

    /// The engine for a tenant's limits, built once per distinct limits.
    pub(super) fn sandbox(&self, limits: &OfferLimits) -> Arc<Sandbox> {
        self.sandboxes.get_with_by_ref(limits, || Arc::new(Sandbox::new(limits)))
    }

    /// The compiled script of an offer version; versions are immutable once they run, so the
    /// key never goes stale.
    pub(super) fn ast(
        &self,
        sandbox: &Sandbox,
        tenant: &TenantId,
        offer: OfferId,
        version: i64,
        script: &str,
    ) -> std::result::Result<Arc<rhai::AST>, String> {
        let key = (tenant.clone(), offer, version);
        if let Some(ast) = self.asts.get(&key) {
            return Ok(ast);
        }
        let ast = Arc::new(sandbox.compile(script)?);
        self.asts.insert(key, ast.clone());
        Ok(ast)
    }
}

/// An offer as its author writes it: a name, either a script or a template, the rules the engine
/// enforces, and example cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferDraft {
    /// The name staff and the operator see.
    pub name: String,
    /// The Rhai script; exactly one of `script` and `template`.
    pub script: Option<String>,
    /// A template that writes the script.
    pub template: Option<Template>,
    /// Priority, exclusivity, budgets, schedule.
    pub rules: OfferRules,
    /// Example cases; submission requires at least one, and every one to pass.
    pub examples: Vec<OfferExample>,
}

/// Where an offer is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferStatus {
    /// Being written; nothing has been approved yet.
    Draft,
    /// Waiting for the operator; nothing has been approved yet.
    Submitted,
    /// The operator refused the latest version; nothing runs.
    Rejected,
    /// An approved version runs on purchases (within its schedule).
    Active,
    /// Stopped by the business or the operator; can be resumed.
    Paused,
    /// Retired for good.
    Archived,
}

/// One version of an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferVersionView {
    /// 1, 2, …
    pub version: i64,
    /// `draft`, `submitted`, `approved`, `rejected` or `withdrawn`.
    pub status: String,
    /// The Rhai script.
    pub script: String,
    /// The template it was generated from, if any.
    pub template: Option<String>,
    /// The rules.
    pub rules: OfferRules,
    /// The examples.
    pub examples: Vec<OfferExample>,
    /// Who approved or rejected it.
    pub reviewed_by: Option<String>,
    /// Why it was rejected.
    pub review_reason: Option<String>,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// An offer with its versions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferView {
    /// The offer.
    pub id: OfferId,
    /// The business that owns (and funds) it.
    pub business: BusinessId,
    /// Its name.
    pub name: String,
    /// Lifecycle state.
    pub status: OfferStatus,
    /// The newest version.
    pub latest_version: i64,
    /// The approved version that runs, if any.
    pub running_version: Option<i64>,
    /// Bonus issued so far (all versions).
    pub spent: Bonus,
    /// Activations so far.
    pub activations: i64,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Every version, newest first.
    pub versions: Vec<OfferVersionView>,
}

/// An ad-hoc evaluation: a script (or an offer's latest version) on one purchase and member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRun {
    /// The script to try; when `None`, the latest version of `offer`.
    pub script: Option<String>,
    /// The offer whose latest version to try.
    pub offer: Option<OfferId>,
    /// The purchase.
    pub purchase: PurchaseFacts,
    /// The member.
    pub member: MemberFacts,
}

/// What a dry run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRunOutcome {
    /// The effects the script asked for (empty when it failed).
    pub effects: Effects,
    /// The bonus they are worth on this purchase, before budgets and caps.
    pub bonus: Bonus,
    /// Why the script failed, if it did.
    pub failure: Option<ScriptFailure>,
}

/// A badge a member holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Badge {
    /// The badge code.
    pub code: String,
    /// When it was first awarded.
    #[serde(with = "time::serde::rfc3339")]
    pub awarded_at: OffsetDateTime,
}

/// One row of offer analytics: one version on one tenant-local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferDayStats {
    /// The version.
    pub version: i64,
    /// The day, `YYYY-MM-DD` in the tenant's time zone.
    pub day: String,
    /// Purchases the script matched (asked for effects).
    pub matched: i64,
    /// Their total amount, kopecks.
    pub revenue: i64,
    /// Times the offer fired (within its limits).
    pub activations: i64,
    /// Bonus issued, kopecks.
    pub bonus: i64,
    /// Distinct members it fired for.
    pub members: i64,
    /// Runs stopped by a limit or a run-time error.
    pub failures: i64,
}

fn corrupt(what: &str) -> impl FnOnce(serde_json::Error) -> Error + '_ {
    move |e| Error::Store(StoreError::Corrupt(format!("{what}: {e}")))
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Store(StoreError::Corrupt(e.to_string())))
}

fn version_view(row: VersionRow) -> Result<OfferVersionView> {
    Ok(OfferVersionView {
        version: row.version,
        status: row.status,
        script: row.script,
        template: row.template,
        rules: serde_json::from_str(&row.rules_json).map_err(corrupt("offer rules"))?,
        examples: serde_json::from_str(&row.examples_json).map_err(corrupt("offer examples"))?,
        reviewed_by: row.reviewed_by,
        review_reason: row.review_reason,
        updated_at: row.updated_at,
    })
}

fn status_of(offer: &OfferRow, latest: Option<&str>) -> OfferStatus {
    if offer.archived {
        OfferStatus::Archived
    } else if offer.paused {
        OfferStatus::Paused
    } else if offer.running_version.is_some() {
        OfferStatus::Active
    } else {
        match latest {
            Some("submitted") => OfferStatus::Submitted,
            Some("rejected") => OfferStatus::Rejected,
            _ => OfferStatus::Draft,
        }
    }
}

fn status_word(status: OfferStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The facts a script sees for an example or a dry run.
fn facts_business(config: &TenantConfig, business: &BusinessId) -> Result<BusinessFacts> {
    let known = config.business(business).ok_or_else(|| Error::UnknownBusiness(business.clone()))?;
    Ok(BusinessFacts { id: known.id.clone(), category: known.category.clone() })
}

/// Runs each example; returns one line per example that did not produce its expected effects.
fn failing_examples(
    sandbox: &Sandbox,
    ast: &rhai::AST,
    business: &BusinessFacts,
    examples: &[OfferExample],
) -> Vec<String> {
    examples
        .iter()
        .filter_map(|ex| {
            let facts = Facts { purchase: &ex.purchase, member: &ex.member, business };
            match sandbox.run_once(ast, &facts) {
                Ok(got) if got == ex.expect => None,
                Ok(got) => Some(format!(
                    "{}: expected {}, got {}",
                    ex.name,
                    serde_json::to_string(&ex.expect).unwrap_or_default(),
                    serde_json::to_string(&got).unwrap_or_default()
                )),
                Err(failure) => Some(format!("{}: the script failed ({failure})", ex.name)),
            }
        })
        .collect()
}

/// A checked draft: the script to store and the template it came from.
struct Checked {
    script: String,
    template: Option<&'static str>,
}

fn check_draft(sandbox: &Sandbox, draft: &OfferDraft) -> Result<Checked> {
    let name = draft.name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(Error::InvalidInput {
            field: "name",
            message: format!("must be 1–{NAME_MAX_CHARS} printable characters"),
        });
    }
    let (script, template) = match (&draft.script, &draft.template) {
        (Some(script), None) => (script.clone(), None),
        (None, Some(template)) => {
            let script = template.script().map_err(|(field, message)| Error::InvalidInput { field, message })?;
            (script, Some(template.name()))
        }
        _ => {
            return Err(Error::InvalidInput {
                field: "script",
                message: "give exactly one of script and template".into(),
            });
        }
    };
    sandbox.compile(&script).map_err(|message| Error::OfferScriptInvalid { message })?;
    draft.rules.check().map_err(|(field, message)| Error::InvalidInput { field, message })?;
    if draft.examples.len() > MAX_EXAMPLES {
        return Err(Error::InvalidInput { field: "examples", message: format!("at most {MAX_EXAMPLES}") });
    }
    for ex in &draft.examples {
        if ex.name.trim().is_empty() || ex.name.chars().count() > NAME_MAX_CHARS {
            return Err(Error::InvalidInput {
                field: "examples.name",
                message: format!("must be 1–{NAME_MAX_CHARS} characters"),
            });
        }
        if ex.purchase.paid > ex.purchase.amount || !(1..=7).contains(&ex.purchase.weekday) || ex.purchase.hour > 23 {
            return Err(Error::InvalidInput {
                field: "examples.purchase",
                message: format!("{}: paid must not exceed amount, weekday 1..=7, hour 0..=23", ex.name),
            });
        }
    }
    Ok(Checked { script, template })
}

impl Krug {
    fn offer_sandbox(&self, config: &TenantConfig) -> Arc<Sandbox> {
        self.inner.offers.sandbox(&config.offers)
    }

    /// Loads an offer under its lock, refusing (as not found) another business's offer when
    /// `scope` names a business.
    async fn scoped_offer(tx: &mut TenantTx, scope: Option<&BusinessId>, offer: OfferId) -> Result<OfferRow> {
        let row = tx.lock_offer(offer).await.map_err(not_found(Error::OfferNotFound))?;
        if scope.is_some_and(|b| b != &row.business) {
            return Err(Error::OfferNotFound);
        }
        Ok(row)
    }

    async fn offer_view(tx: &mut TenantTx, row: OfferRow) -> Result<OfferView> {
        let versions = tx.offer_versions(row.id).await?;
        let status = status_of(&row, versions.first().map(|v| v.status.as_str()));
        Ok(OfferView {
            id: row.id,
            business: row.business,
            name: row.name,
            status,
            latest_version: row.latest_version,
            running_version: row.running_version,
            spent: row.spent,
            activations: row.activations,
            created_at: row.created_at,
            versions: versions.into_iter().map(version_view).collect::<Result<_>>()?,
        })
    }

    async fn offer_views(tx: &mut TenantTx, rows: Vec<OfferRow>) -> Result<Vec<OfferView>> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(Self::offer_view(tx, row).await?);
        }
        Ok(out)
    }

    async fn latest_version(tx: &mut TenantTx, row: &OfferRow) -> Result<VersionRow> {
        let versions = tx.offer_versions(row.id).await?;
        versions
            .into_iter()
            .find(|v| v.version == row.latest_version)
            .ok_or_else(|| Error::Store(StoreError::Corrupt("offer without its latest version".into())))
    }

    /// Creates an offer of `business` as a draft (version 1). The script (or the template's) is
    /// compiled now; an invalid one is [`Error::OfferScriptInvalid`] and nothing is stored.
    pub async fn create_offer(&self, tenant: &TenantId, business: &BusinessId, draft: OfferDraft) -> Result<OfferView> {
        let t = self.tenant(tenant)?;
        facts_business(&t.config, business)?;
        let checked = check_draft(&self.offer_sandbox(&t.config), &draft)?;
        let now = self.now();
        let id = OfferId::generate(self.inner.ids.as_ref());
        let mut tx = self.begin(tenant).await?;
        tx.insert_offer(id, business, draft.name.trim(), now).await?;
        let rules = to_json(&draft.rules)?;
        let examples = to_json(&draft.examples)?;
        let version = NewVersion {
            offer: id,
            version: 1,
            script: &checked.script,
            rules_json: &rules,
            examples_json: &examples,
            template: checked.template,
        };
        tx.put_draft_version(&version, now).await?;
        let row = tx.lock_offer(id).await?;
        let view = Self::offer_view(&mut tx, row).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, offer = %id, business = %business, "offer created");
        Ok(view)
    }

    /// Changes an offer of `business`. A draft latest version changes in place; otherwise a new
    /// draft version is added (a submitted one is withdrawn) and the approved version, if any,
    /// keeps running until the new one is approved.
    pub async fn edit_offer(
        &self,
        tenant: &TenantId,
        business: &BusinessId,
        offer: OfferId,
        draft: OfferDraft,
    ) -> Result<OfferView> {
        let t = self.tenant(tenant)?;
        let checked = check_draft(&self.offer_sandbox(&t.config), &draft)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let mut row = Self::scoped_offer(&mut tx, Some(business), offer).await?;
        if row.archived {
            return Err(Error::OfferStateConflict { action: "edit", status: "archived".into() });
        }
        let latest = Self::latest_version(&mut tx, &row).await?;
        let rules = to_json(&draft.rules)?;
        let examples = to_json(&draft.examples)?;
        let mut version = NewVersion {
            offer,
            version: latest.version,
            script: &checked.script,
            rules_json: &rules,
            examples_json: &examples,
            template: checked.template,
        };
        if latest.status == "draft" {
            tx.put_draft_version(&version, now).await?;
        } else {
            if latest.status == "submitted" {
                tx.set_version_status(offer, latest.version, "withdrawn", None, now).await?;
            }
            version.version = latest.version + 1;
            tx.put_draft_version(&version, now).await?;
            row.latest_version = version.version;
        }
        draft.name.trim().clone_into(&mut row.name);
        tx.update_offer(&row, now).await?;
        let view = Self::offer_view(&mut tx, row).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Submits the latest (draft) version for the operator's approval. Every example must
    /// produce exactly its expected effects, and there must be at least one; otherwise
    /// [`Error::OfferExamplesFailed`] lists the failing cases and nothing changes.
    pub async fn submit_offer(&self, tenant: &TenantId, business: &BusinessId, offer: OfferId) -> Result<OfferView> {
        let t = self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let row = Self::scoped_offer(&mut tx, Some(business), offer).await?;
        let latest = Self::latest_version(&mut tx, &row).await?;
        if row.archived || latest.status != "draft" {
            let status = if row.archived { "archived".to_owned() } else { latest.status.clone() };
            return Err(Error::OfferStateConflict { action: "submit", status });
        }
        let examples: Vec<OfferExample> =
            serde_json::from_str(&latest.examples_json).map_err(corrupt("offer examples"))?;
        if examples.is_empty() {
            return Err(Error::OfferExamplesFailed { failures: vec!["at least one example is required".into()] });
        }
        let sandbox = self.offer_sandbox(&t.config);
        let ast = sandbox.compile(&latest.script).map_err(|message| Error::OfferScriptInvalid { message })?;
        let failures = failing_examples(&sandbox, &ast, &facts_business(&t.config, &row.business)?, &examples);
        if !failures.is_empty() {
            return Err(Error::OfferExamplesFailed { failures });
        }
        tx.set_version_status(offer, latest.version, "submitted", None, now).await?;
        let view = Self::offer_view(&mut tx, row).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// The operator approves the submitted `version`: it becomes the running version (replacing
    /// any earlier approved one). Audited.
    pub async fn approve_offer(
        &self,
        tenant: &TenantId,
        offer: OfferId,
        version: i64,
        actor: &str,
    ) -> Result<OfferView> {
        self.review(tenant, offer, version, actor, None).await
    }

    /// The operator rejects the submitted `version` with a reason the owner sees. Audited.
    pub async fn reject_offer(
        &self,
        tenant: &TenantId,
        offer: OfferId,
        version: i64,
        reason: &str,
        actor: &str,
    ) -> Result<OfferView> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > REASON_MAX_CHARS {
            return Err(Error::InvalidInput {
                field: "reason",
                message: format!("must be 1–{REASON_MAX_CHARS} characters"),
            });
        }
        self.review(tenant, offer, version, actor, Some(reason)).await
    }

    async fn review(
        &self,
        tenant: &TenantId,
        offer: OfferId,
        version: i64,
        actor: &str,
        rejection: Option<&str>,
    ) -> Result<OfferView> {
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let mut row = Self::scoped_offer(&mut tx, None, offer).await?;
        let action = if rejection.is_some() { "reject" } else { "approve" };
        let target = tx.offer_versions(offer).await?.into_iter().find(|v| v.version == version);
        let Some(target) = target else { return Err(Error::OfferNotFound) };
        if row.archived || target.status != "submitted" {
            let status = if row.archived { "archived".to_owned() } else { target.status };
            return Err(Error::OfferStateConflict { action, status });
        }
        match rejection {
            Some(reason) => {
                tx.set_version_status(offer, version, "rejected", Some((actor, Some(reason))), now).await?;
            }
            None => {
                tx.set_version_status(offer, version, "approved", Some((actor, None)), now).await?;
                row.running_version = Some(version);
                tx.update_offer(&row, now).await?;
            }
        }
        let detail = match rejection {
            Some(reason) => format!("version {version}: {reason}"),
            None => format!("version {version}"),
        };
        let audit = self.inner.ids.next_uuid();
        tx.audit(audit, actor, &format!("offer.{action}"), &offer.to_string(), &detail, None, now).await?;
        let view = Self::offer_view(&mut tx, row).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, offer = %offer, version, action, "offer reviewed");
        Ok(view)
    }

    /// Pauses an offer: it stops running on purchases until resumed. `scope` is the caller's
    /// business (staff) or `None` (the operator). Audited.
    pub async fn pause_offer(
        &self,
        tenant: &TenantId,
        scope: Option<&BusinessId>,
        offer: OfferId,
        actor: &str,
    ) -> Result<OfferView> {
        self.flip(tenant, scope, offer, actor, "pause").await
    }

    /// Resumes a paused offer. Audited.
    pub async fn resume_offer(
        &self,
        tenant: &TenantId,
        scope: Option<&BusinessId>,
        offer: OfferId,
        actor: &str,
    ) -> Result<OfferView> {
        self.flip(tenant, scope, offer, actor, "resume").await
    }

    /// Archives an offer for good (operator). Audited.
    pub async fn archive_offer(&self, tenant: &TenantId, offer: OfferId, actor: &str) -> Result<OfferView> {
        self.flip(tenant, None, offer, actor, "archive").await
    }

    async fn flip(
        &self,
        tenant: &TenantId,
        scope: Option<&BusinessId>,
        offer: OfferId,
        actor: &str,
        action: &'static str,
    ) -> Result<OfferView> {
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let mut row = Self::scoped_offer(&mut tx, scope, offer).await?;
        let latest = Self::latest_version(&mut tx, &row).await?;
        let status = status_of(&row, Some(&latest.status));
        let allowed = match action {
            "pause" => status == OfferStatus::Active,
            "resume" => status == OfferStatus::Paused,
            _ => status != OfferStatus::Archived,
        };
        if !allowed {
            return Err(Error::OfferStateConflict { action, status: status_word(status) });
        }
        match action {
            "pause" => row.paused = true,
            "resume" => row.paused = false,
            _ => row.archived = true,
        }
        tx.update_offer(&row, now).await?;
        let audit = self.inner.ids.next_uuid();
        tx.audit(audit, actor, &format!("offer.{action}"), &offer.to_string(), "", None, now).await?;
        let view = Self::offer_view(&mut tx, row).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// The business's offers (every business's with `None`: the operator), newest first.
    pub async fn offers(&self, tenant: &TenantId, scope: Option<&BusinessId>) -> Result<Vec<OfferView>> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let rows = tx.offers_of(scope).await?;
        Self::offer_views(&mut tx, rows).await
    }

    /// Offers with a version waiting for approval (the operator's queue), oldest first.
    pub async fn submitted_offers(&self, tenant: &TenantId) -> Result<Vec<OfferView>> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let rows = tx.offers_with_version_status("submitted").await?;
        Self::offer_views(&mut tx, rows).await
    }

    /// One offer; another business's offer is [`Error::OfferNotFound`] when `scope` is set.
    pub async fn offer(&self, tenant: &TenantId, scope: Option<&BusinessId>, offer: OfferId) -> Result<OfferView> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let row = tx.offers_of(scope).await?.into_iter().find(|o| o.id == offer).ok_or(Error::OfferNotFound)?;
        Self::offer_view(&mut tx, row).await
    }

    /// Evaluates a script (or an offer's latest version) on one ad-hoc purchase and member,
    /// writing nothing. A script that fails to compile is [`Error::OfferScriptInvalid`]; one that
    /// fails at run time is reported in the outcome.
    pub async fn dry_run_offer(&self, tenant: &TenantId, business: &BusinessId, run: DryRun) -> Result<DryRunOutcome> {
        let t = self.tenant(tenant)?;
        let business_facts = facts_business(&t.config, business)?;
        let script = match (run.script, run.offer) {
            (Some(script), None) => script,
            (None, Some(offer)) => {
                let view = self.offer(tenant, Some(business), offer).await?;
                view.versions.into_iter().next().map(|v| v.script).ok_or(Error::OfferNotFound)?
            }
            _ => {
                return Err(Error::InvalidInput {
                    field: "script",
                    message: "give exactly one of script and offer".into(),
                });
            }
        };
        if run.purchase.paid > run.purchase.amount || !(1..=7).contains(&run.purchase.weekday) || run.purchase.hour > 23
        {
            return Err(Error::InvalidInput {
                field: "purchase",
                message: "paid must not exceed amount, weekday 1..=7, hour 0..=23".into(),
            });
        }
        let sandbox = self.offer_sandbox(&t.config);
        let ast = sandbox.compile(&script).map_err(|message| Error::OfferScriptInvalid { message })?;
        let facts = Facts { purchase: &run.purchase, member: &run.member, business: &business_facts };
        Ok(match sandbox.run_once(&ast, &facts) {
            Ok(effects) => {
                let bonus =
                    policy::bonus_of(&effects, run.purchase.paid, run.purchase.cashback, t.config.bonus.rounding)
                        .ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;
                DryRunOutcome { effects, bonus, failure: None }
            }
            Err(failure) => DryRunOutcome { effects: Effects::default(), bonus: Bonus::ZERO, failure: Some(failure) },
        })
    }

    /// Per version and tenant-local day: matched purchases and their revenue, activations, bonus
    /// issued, distinct members, script failures. `scope` as in [`Krug::offer`].
    pub async fn offer_analytics(
        &self,
        tenant: &TenantId,
        scope: Option<&BusinessId>,
        offer: OfferId,
    ) -> Result<Vec<OfferDayStats>> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        if !tx.offers_of(scope).await?.iter().any(|o| o.id == offer) {
            return Err(Error::OfferNotFound);
        }
        let reach = tx.offer_reach(offer).await?;
        let rows = tx.offer_stats(offer).await?;
        Ok(rows
            .into_iter()
            .map(|(version, day, matched, revenue, activations, bonus, failures)| {
                let members = reach.iter().find(|(v, d, _)| *v == version && *d == day).map_or(0, |r| r.2);
                OfferDayStats { version, day, matched, revenue, activations, bonus, members, failures }
            })
            .collect())
    }

    /// The member's badges, oldest first.
    pub async fn member_badges(&self, tenant: &TenantId, member: MemberId) -> Result<Vec<Badge>> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        tx.account(member).await.map_err(not_found(Error::MemberNotFound))?;
        let rows = tx.badges(member).await?;
        Ok(rows.into_iter().map(|(code, awarded_at)| Badge { code, awarded_at }).collect())
    }
}
