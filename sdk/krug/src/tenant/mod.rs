//! Tenant (ecosystem) configuration: one `tenant.toml` per tenant describing its partners, status
//! ladder, bonus rules and event budget.
//!
//! Invariant: a [`TenantConfig`] exists only after the whole file validated, and a failed load
//! reports every problem at once ([`ConfigErrors`]), each with the field path to fix.

pub mod config;

pub use config::{BudgetPolicy, BusinessConfig, ConfigErrors, ConfigProblem, TENANT_FILE, TenantConfig};
