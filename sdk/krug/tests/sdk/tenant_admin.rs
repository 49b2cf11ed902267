//! Re-configuring a hosted tenant and re-hosting stored tenants.

use krug::tenant::TenantConfig;
use krug_testkit::backend_test;

use crate::common::*;

backend_test!(
    async fn a_new_configuration_applies_at_once_and_keeps_the_tenants_keys(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let source = krug_testkit::tenants::svoy_krug().source.replace("cashback_bps = 500", "cashback_bps = 600");
        let config = TenantConfig::from_toml_str(&source).unwrap();
        env.krug.update_tenant_config(config).await.unwrap();
        assert_eq!(env.buy(anna, "skinerica", 1_000, "1").await.cashback, bonus(6_000), "6 % from the new ladder");
        assert_eq!(env.krug.member(&env.tenant, anna).await.unwrap().phone, phone(1), "personal data still opens");
        let unknown = TenantConfig::from_toml_str(&source.replace("id = \"svoy-krug\"", "id = \"nowhere\"")).unwrap();
        assert_eq!(env.krug.update_tenant_config(unknown).await.unwrap_err().code(), "tenant_not_found");
    }
);

backend_test!(
    async fn the_store_lists_every_applied_configuration(db: TestDb) {
        let env = env(db).await;
        let stored = env.krug.stored_tenant_configs().await.unwrap();
        let ids: Vec<_> = stored.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["svoy-krug", "zelenyi-kvartal"]);
        assert_eq!(TenantConfig::from_toml_str(&stored[0].1).unwrap(), krug_testkit::tenants::svoy_krug());
    }
);
