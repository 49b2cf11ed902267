//! # Krug — the coalition-loyalty SDK
//!
//! Several partner businesses share one loyalty programme: a member earns bonuses at one partner
//! and spends them at another, and climbs status tiers by buying across categories. This crate is
//! the embeddable core: domain types, pure engines (`ledger`, `status`), tenant configuration,
//! personal-data encryption (`pii`), and one store over SQLite and PostgreSQL behind the [`Krug`]
//! facade.
//!
//! Start at [`Krug::builder`]; see the crate README for a complete example.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod budget;
pub mod chain;
pub mod coupon;
mod error;
pub mod event;
mod facade;
pub mod identity;
pub mod ledger;
pub mod offer;
pub mod pii;
pub(crate) mod purchase;
pub mod qr;
pub mod status;
mod store;
pub mod tenant;
pub mod types;

pub use error::{Error, Result};
pub use facade::{
    Adjust, AdjustmentReceipt, AuditRecord, BudgetReport, ExpiryReport, HistoryItem, HistoryPage, Krug, KrugBuilder,
    MemberProfile, Receipt, RecordPurchase, RefundPurchase, RefundReceipt, RegisterMember, Session, SettlementLine,
    StatusView,
};
pub use facade::{
    AppliedCoupon, AppliedOffer, BacktestDay, BacktestProgress, BacktestReport, Badge, BudgetSummary,
    ContributionStatement, CouponAuthor, CouponPreview, CouponTemplateView, DryRun, DryRunOutcome, EventActor,
    EventFunding, EventFundsLine, IssuedBatch, IssuedCoupon, MAX_BULK, MemberCoupon, MemberCouponStatus, Moderation,
    NewEvent, NewPromoCode, NewProposal, OfferDayStats, OfferDraft, OfferStatus, OfferVersionView, OfferView,
    PreviewCoupon, RegisterForEvent, budget_ledger_csv,
};
pub use facade::{
    BusinessClient, CatalogueEntry, ClientQuery, Page, PageItem, PurchaseQuery, PurchaseRecord, TenantSummary,
    TierInfo, clients_csv, purchases_csv,
};
pub use facade::{
    ChainActor, ChainAnalytics, ChainPartner, ChainRewardPaid, ChainStatus, ChainStepMade, ChainView,
    MIN_MEDICAL_GROUP, MemberChain, PartnerStats, StepStats, WaitingCoupon, chain_analytics_csv,
};
pub use facade::{QrProvisioning, Scan};
pub use facade::{hash_secret, verify_secret};
pub use identity::{
    AuditEvent, Consent, ConsentKind, GrantConsent, IssuedCode, NewStaff, ProfileUpdate, Role, SignIn, Staff,
    StaffUpdate,
};
pub use store::{DEFAULT_SQLITE_BATCH_MAX_AGE, DEFAULT_WRITE_WAIT_BUDGET, SqliteDurability, StoreError, WriteStats};
