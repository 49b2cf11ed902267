//! # krug-appliance
//!
//! The self-hosted Krug server: the multi-tenant HTTP API (poem + poem-openapi) over the Krug SDK,
//! with authentication, roles, the QR wallet and the cashier's scan, plus the `krug` CLI.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
// ApiError carries a whole problem document by value; errors are the rare path, and boxing would
// cost every handler an allocation-and-deref dance for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod app;
pub mod auth;
pub mod demo;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod problem;
pub mod settings;
pub mod sms;
pub mod state;

pub use app::{Application, Overrides, StartError};
pub use settings::Settings;
