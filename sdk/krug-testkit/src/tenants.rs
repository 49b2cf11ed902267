//! The two seeded tenants every test can use: the shipped `svoy-krug` file and a deliberately
//! different `zelenyi-kvartal` fixture, so tests catch code that hard-codes one tenant's numbers.
// Test support: a fixture that fails to load is a broken test setup, and panicking with the
// problem list is the clearest report, so the workspace's expect/panic denial is lifted here.
#![allow(clippy::expect_used, clippy::panic)]

use krug::tenant::TenantConfig;

/// The launch tenant exactly as shipped in `tenants/svoy-krug/tenant.toml`.
pub fn svoy_krug() -> TenantConfig {
    load(include_str!("../../../tenants/svoy-krug/tenant.toml"), "svoy-krug")
}

/// `zelenyi-kvartal`: lifetime window, debt on refunds, half-up rounding, no hold, Yekaterinburg.
pub fn other_tenant() -> TenantConfig {
    load(include_str!("../fixtures/other-tenant/tenant.toml"), "other-tenant")
}

fn load(text: &str, which: &str) -> TenantConfig {
    TenantConfig::from_toml_str(text).unwrap_or_else(|errors| panic!("fixture tenant {which} is invalid:\n{errors}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_fixture_tenants_load_and_differ() {
        let (a, b) = (svoy_krug(), other_tenant());
        assert_eq!(a.id.as_str(), "svoy-krug");
        assert_eq!(b.id.as_str(), "zelenyi-kvartal");
        assert_ne!(a.bonus, b.bonus);
    }
}
