//! # krug-benches
//!
//! Benchmarks of the scan-to-accrual path, always beside the physical floor of the same machine
//! measured in the same run:
//! - [`floor`]: a bare one-row `INSERT` transaction on the same store with the same durability,
//!   and on SQLite the group-commit floor (N one-row inserts per `COMMIT`);
//! - [`store`]: the SDK's `scan` and `record_purchase` through the store, one task and N tasks;
//! - [`seed`]: a realistic data generator through the SDK (members, partners, years of purchases);
//! - [`load`]: an HTTP load generator driving an appliance with rotating QR codes of distinct
//!   members, open loop (fixed rate) or flat out;
//! - [`report`]: HDR-histogram summaries and the one table `scripts/bench.sh` prints.
//!
//! The criterion micro-benches of the in-memory decision live in `benches/decision.rs`.
//!
//! Statistics (rates, ratios, percentiles) are floating point here by nature; no money flows
//! through this crate's arithmetic.
#![allow(clippy::float_arithmetic)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod clock;
pub mod codes;
pub mod floor;
pub mod load;
pub mod report;
pub mod seed;
pub mod store;
pub mod target;

/// Errors of the bench tool: anything, with a message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The result type of the bench tool.
pub type Result<T, E = BoxError> = std::result::Result<T, E>;

/// The svoy-krug tenant folder: `tenants/svoy-krug` under the current directory when it exists
/// (the repository root, where `scripts/bench.sh` runs), else next to this crate's sources.
pub fn default_tenant_dir() -> std::path::PathBuf {
    let here = std::path::PathBuf::from("tenants/svoy-krug");
    if here.join("tenant.toml").exists() {
        return here;
    }
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tenants/svoy-krug"))
}

/// Loads a tenant configuration folder, with the folder in the message when it fails.
pub fn load_tenant(dir: &std::path::Path) -> Result<krug::tenant::TenantConfig> {
    krug::tenant::TenantConfig::load_dir(dir).map_err(|e| format!("{}: {e}", dir.display()).into())
}

/// The phone of generated member number `i`: `+79xxxxxxxxx`, the same in `seed` and `load`, so a
/// load run signs in members a seed run created (with their purchase history).
pub fn member_phone(i: u64) -> String {
    format!("+79{:09}", i % 1_000_000_000)
}

/// The medical-disclosure consent a member gives before buying at a clinic partner (the SDK
/// refuses clinic purchases without it); the text version and hash stand for the text shown.
pub fn medical_consent() -> krug::GrantConsent {
    krug::GrantConsent {
        kind: krug::ConsentKind::MedicalDisclosure,
        text_version: "medical-disclosure-v1".into(),
        text_sha256: MEDICAL_TEXT_SHA256.into(),
        channel: "app".into(),
    }
}

/// SHA-256 of the consent text the generated members are shown (any 64 hex digits do).
pub const MEDICAL_TEXT_SHA256: &str = "3f1c2a9e8b7d6c5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877";
