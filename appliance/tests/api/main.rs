//! The appliance's integration suite: each test starts the appliance on a random port over a
//! fresh database (SQLite and PostgreSQL via `backend_test!`) and talks HTTP to it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

mod admin;
mod bad_input;
mod basics;
mod chains;
mod coupons;
mod events;
mod isolation;
mod journey;
mod member_profile;
mod offers;
mod openapi;
mod roles;
mod sessions;
