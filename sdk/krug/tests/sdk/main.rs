//! The SDK's integration suite: every test runs against a fresh SQLite database and a fresh
//! PostgreSQL database (`backend_test!`), through the public `Krug` facade only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

mod bad_input;
mod chains;
mod concurrency;
mod coupons;
mod events;
mod idempotency;
mod identity;
mod isolation;
mod journey;
mod offers;
mod personal_data;
mod qr_scan;
mod schema;
mod sessions;
mod tenant_admin;
mod tiers;
mod views;
