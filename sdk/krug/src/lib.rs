//! # Krug — the coalition-loyalty SDK
//!
//! Several partner businesses share one loyalty programme: a member earns bonuses at one partner
//! and spends them at another, and climbs status tiers by buying across categories. This crate is
//! the embeddable core: domain types, pure engines, and one store over SQLite and PostgreSQL.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod ledger;
pub mod status;
pub mod tenant;
pub mod types;
