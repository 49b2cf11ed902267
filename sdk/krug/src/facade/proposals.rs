//! The event constructor: members of the proposer tiers propose events, the operator moderates,
//! members vote in the voting window (one vote each, changeable until it closes, weighted by
//! their tier at the moment they vote), and the operator turns a winning proposal into an event
//! funded from the budget.

use time::OffsetDateTime;

use super::Krug;
use super::events::{NewEvent, build_event, tier_of};
use super::purchases::not_found;
use crate::error::{Error, Result};
use crate::event::{self, Event, EventError, EventStatus, Proposal, ProposalResults, ProposalStatus};
use crate::types::{EventId, Kopecks, MemberId, ProposalId, TenantId};

/// A member's event idea.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProposal {
    /// 1–200 characters.
    pub title: String,
    /// Up to 4,000 characters.
    pub description: String,
    /// What she thinks it would cost; positive.
    pub estimated_cost: Kopecks,
}

/// The operator's decision on a pending proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    /// Accepted: members vote from `opens` until `closes`.
    Approve {
        /// Voting opens.
        opens: OffsetDateTime,
        /// Voting closes (after it opens).
        closes: OffsetDateTime,
    },
    /// Refused, with the reason the member sees (1–500 characters).
    Reject {
        /// Why.
        reason: String,
    },
}

fn denied(reason: impl Into<String>) -> Error {
    Error::Event(EventError::AccessDenied { reason: reason.into() })
}

impl Krug {
    /// Proposes an event (members at or above the tenant's proposer tier: VIP, Elite, Inner
    /// Circle by default). It waits for moderation.
    pub async fn propose_event_idea(&self, tenant: &TenantId, member: MemberId, idea: NewProposal) -> Result<Proposal> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let now = self.now();
        if idea.title.trim().is_empty() || idea.title.chars().count() > 200 {
            return Err(Error::InvalidInput { field: "title", message: "must be 1–200 characters".into() });
        }
        if idea.description.chars().count() > 4_000 {
            return Err(Error::InvalidInput {
                field: "description",
                message: "must be at most 4000 characters".into(),
            });
        }
        if idea.estimated_cost.is_zero() {
            return Err(Error::InvalidAmount { field: "estimated_cost", source: crate::types::AmountError::Zero });
        }
        let mut tx = self.begin(tenant).await?;
        let tier = tier_of(&mut tx, config, member, now, true).await?;
        let allowed = tier.is_some()
            && event::access_allows(&config.tiers, config.events.proposer_min_tier.as_ref(), tier.as_ref());
        if !allowed {
            let need =
                config.events.proposer_min_tier.as_ref().map_or_else(|| "any tier".to_owned(), |t| t.to_string());
            return Err(denied(format!("proposing events needs {need} or above")));
        }
        let proposal = Proposal {
            id: ProposalId::generate(self.inner.ids.as_ref()),
            member,
            title: idea.title.trim().to_owned(),
            description: idea.description,
            estimated_cost: idea.estimated_cost,
            status: ProposalStatus::Pending,
            reason: None,
            voting_opens_at: None,
            voting_closes_at: None,
            event: None,
            created_at: now,
        };
        tx.insert_proposal(&proposal).await?;
        tx.commit().await?;
        Ok(proposal)
    }

    /// Moderates a pending proposal (operator): approve with a voting window, or reject with a
    /// reason. Audited.
    pub async fn moderate_proposal(
        &self,
        tenant: &TenantId,
        id: ProposalId,
        actor: &str,
        decision: Moderation,
    ) -> Result<Proposal> {
        self.tenant(tenant)?;
        let now = self.now();
        match &decision {
            Moderation::Approve { opens, closes } if closes <= opens || *closes <= now => {
                return Err(Error::InvalidInput {
                    field: "voting_closes",
                    message: "must be after voting opens and in the future".into(),
                });
            }
            Moderation::Reject { reason } if reason.trim().is_empty() || reason.chars().count() > 500 => {
                return Err(Error::InvalidInput { field: "reason", message: "must be 1–500 characters".into() });
            }
            _ => {}
        }
        let mut tx = self.begin(tenant).await?;
        let mut proposal = tx.proposal(id).await.map_err(not_found(Error::Event(EventError::ProposalNotFound)))?;
        if proposal.status != ProposalStatus::Pending {
            return Err(Error::Event(EventError::InvalidTransition {
                from: proposal.status.as_str(),
                action: "moderate",
            }));
        }
        let action = match decision {
            Moderation::Approve { opens, closes } => {
                proposal.status = ProposalStatus::Approved;
                proposal.voting_opens_at = Some(opens);
                proposal.voting_closes_at = Some(closes);
                "proposal.approve"
            }
            Moderation::Reject { reason } => {
                proposal.status = ProposalStatus::Rejected;
                proposal.reason = Some(reason.trim().to_owned());
                "proposal.reject"
            }
        };
        tx.update_proposal(&proposal, now).await?;
        let detail = serde_json::json!({ "status": proposal.status.as_str() }).to_string();
        tx.audit(self.inner.ids.next_uuid(), actor, action, &format!("proposal:{id}"), &detail, None, now).await?;
        tx.commit().await?;
        Ok(proposal)
    }

    /// Every proposal, newest first (the operator's moderation queue and archive).
    pub async fn proposals(&self, tenant: &TenantId) -> Result<Vec<Proposal>> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        Ok(tx.proposals().await?)
    }

    /// Proposals members can see: approved (voting or decided) and converted ones, and the
    /// member's own in any state.
    pub async fn member_proposals(&self, tenant: &TenantId, member: MemberId) -> Result<Vec<Proposal>> {
        Ok(self
            .proposals(tenant)
            .await?
            .into_iter()
            .filter(|p| p.member == member || matches!(p.status, ProposalStatus::Approved | ProposalStatus::Converted))
            .collect())
    }

    /// Votes for (`support`) or against a proposal in its voting window; a second vote replaces
    /// the first. The weight is the member's tier weight now. Returns the results after it.
    pub async fn vote_on_proposal(
        &self,
        tenant: &TenantId,
        id: ProposalId,
        member: MemberId,
        support: bool,
    ) -> Result<ProposalResults> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let proposal = tx.proposal(id).await.map_err(not_found(Error::Event(EventError::ProposalNotFound)))?;
        let open = proposal.status == ProposalStatus::Approved
            && proposal.voting_opens_at.is_some_and(|o| o <= now)
            && proposal.voting_closes_at.is_some_and(|c| now < c);
        if !open {
            return Err(Error::Event(EventError::VotingClosed));
        }
        let tier = tier_of(&mut tx, config, member, now, true).await?;
        let weight = config.events.weight(tier.as_ref());
        let Some(tier) = tier.filter(|_| weight > 0) else {
            return Err(denied("voting needs a tier with a vote weight"));
        };
        tx.upsert_vote(id, member, support, &tier, weight, now).await?;
        let tally = event::tally(tx.votes(id).await?);
        tx.commit().await?;
        Ok(ProposalResults { proposal, tally, closed: false })
    }

    /// A proposal's results: raw and weighted counts, and whether voting has closed.
    pub async fn proposal_results(&self, tenant: &TenantId, id: ProposalId) -> Result<ProposalResults> {
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.read(tenant).await?;
        let proposal = tx.proposal(id).await.map_err(not_found(Error::Event(EventError::ProposalNotFound)))?;
        let tally = event::tally(tx.votes(id).await?);
        let closed = proposal.voting_closes_at.is_some_and(|c| c <= now);
        Ok(ProposalResults { proposal, tally, closed })
    }

    /// Turns a proposal that won its closed vote into a published event and allocates
    /// `allocation` to it from the event budget — one transaction: an allocation above the
    /// budget's balance refuses the whole conversion. Audited.
    pub async fn convert_proposal(
        &self,
        tenant: &TenantId,
        id: ProposalId,
        actor: &str,
        draft: NewEvent,
        allocation: Kopecks,
    ) -> Result<Event> {
        let t = self.tenant(tenant)?;
        let now = self.now();
        let mut event = build_event(
            &t.config,
            &draft,
            EventId::generate(self.inner.ids.as_ref()),
            EventStatus::Published,
            actor,
            now,
        )?;
        let mut tx = self.begin(tenant).await?;
        let mut proposal = tx.proposal(id).await.map_err(not_found(Error::Event(EventError::ProposalNotFound)))?;
        if proposal.status != ProposalStatus::Approved {
            return Err(Error::Event(EventError::InvalidTransition {
                from: proposal.status.as_str(),
                action: "convert",
            }));
        }
        if proposal.voting_closes_at.is_none_or(|c| c > now) {
            let (from, action) = (proposal.status.as_str(), "convert before its vote closes");
            return Err(Error::Event(EventError::InvalidTransition { from, action }));
        }
        let tally = event::tally(tx.votes(id).await?);
        if !tally.wins() {
            return Err(denied("the proposal did not win its vote"));
        }
        event.proposal = Some(id);
        tx.insert_event(&event).await?;
        if !allocation.is_zero() {
            self.allocate_in(&mut tx, event.id, allocation, Some("from proposal"), actor, now).await?;
        }
        proposal.status = ProposalStatus::Converted;
        proposal.event = Some(event.id);
        tx.update_proposal(&proposal, now).await?;
        let detail = serde_json::json!({ "event": event.id.to_string(), "allocation": allocation.get() }).to_string();
        tx.audit(self.inner.ids.next_uuid(), actor, "proposal.convert", &format!("proposal:{id}"), &detail, None, now)
            .await?;
        tx.commit().await?;
        Ok(event)
    }
}
