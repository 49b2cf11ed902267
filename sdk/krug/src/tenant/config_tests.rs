//! Unit tests of the tenant configuration loader.
use super::*;

const SVOY_KRUG: &str = include_str!("../../../../tenants/svoy-krug/tenant.toml");
const OTHER: &str = include_str!("../../../krug-testkit/fixtures/other-tenant/tenant.toml");

fn bps(v: u16) -> Bps {
    Bps::new(v).unwrap()
}

#[test]
fn local_date_follows_the_tenant_time_zone() {
    let config = TenantConfig::from_toml_str(SVOY_KRUG).unwrap();
    let late_evening_utc = time::macros::datetime!(2026-03-01 22:30 UTC);
    assert_eq!(config.local_date(late_evening_utc), time::macros::date!(2026 - 03 - 02), "already 01:30 in Moscow");
    assert_eq!(config.local_date(time::macros::datetime!(2026-03-01 20:59 UTC)), time::macros::date!(2026 - 03 - 01));
}

fn paths(errors: &ConfigErrors) -> Vec<&str> {
    errors.0.iter().map(|p| p.path.as_str()).collect()
}

#[test]
fn the_shipped_svoy_krug_file_loads_with_the_launch_numbers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tenants/svoy-krug");
    let config = TenantConfig::load_dir(&dir).unwrap();
    assert_eq!(config, TenantConfig::from_toml_str(SVOY_KRUG).unwrap());

    assert_eq!((config.id.as_str(), config.name.as_str()), ("svoy-krug", "Свой Круг"));
    assert_eq!(config.timezone, "Europe/Moscow");
    let businesses: Vec<_> =
        config.businesses.iter().map(|b| (b.id.as_str(), b.name.as_str(), b.category.as_str(), b.medical)).collect();
    assert_eq!(
        businesses,
        [
            ("skinerica", "Skinerica", "cosmetology", false),
            ("lisichkino", "Лисичкино", "gastro_market", false),
            ("stim-center", "Стим Центр", "dentistry", true),
            ("mindal", "Миндаль", "beauty_salon", false),
            ("millennium", "Миллениум", "medical_centre", true),
        ]
    );
    let tiers: Vec<_> = config
        .tiers
        .tiers()
        .iter()
        .map(|t| (t.code.as_str(), t.min_spend.get(), t.min_categories, t.cashback, t.invitation_only))
        .collect();
    assert_eq!(
        tiers,
        [
            ("insider", 0, 1, bps(500), false),
            ("vip", 3_000_000, 3, bps(700), false),
            ("elite", 10_000_000, 5, bps(1000), false),
            ("inner-circle", 0, 0, bps(1000), true),
        ]
    );
    assert_eq!(config.tiers.window(), StatusWindow::RollingDays(365));
    assert_eq!(config.tiers.downgrade_grace_days(), 30);
    assert_eq!(
        config.bonus,
        BonusPolicy {
            hold_days: 14,
            expiry_days: 365,
            max_redeem_share: bps(3000),
            rounding: Rounding::Floor,
            refund_of_spent: RefundOfSpent::ClawBack,
        }
    );
    assert_eq!(config.budget.event_share, bps(200));
    let clinic = config.business(&BusinessId::parse("stim-center").unwrap()).unwrap();
    assert!(clinic.medical);
    assert_eq!(config.business(&BusinessId::parse("nobody").unwrap()), None);
}

#[test]
fn the_other_tenant_fixture_loads_with_its_own_settings() {
    let config = TenantConfig::from_toml_str(OTHER).unwrap();
    assert_eq!(config.id.as_str(), "zelenyi-kvartal");
    assert_eq!(config.timezone, "Asia/Yekaterinburg");
    assert_eq!(config.businesses.len(), 3);
    assert_eq!(config.tiers.tiers().len(), 2);
    assert_eq!(config.tiers.window(), StatusWindow::Lifetime);
    assert_eq!(config.bonus.hold_days, 0);
    assert_eq!(config.bonus.rounding, Rounding::HalfUp);
    assert_eq!(config.bonus.refund_of_spent, RefundOfSpent::Debt);
}

#[test]
fn defaults_apply_when_optional_sections_and_keys_are_omitted() {
    let config = TenantConfig::from_toml_str(
        r#"
        id = "mini"
        name = "Mini"
        timezone = "Europe/Moscow"
        [[businesses]]
        id = "shop"
        name = "Shop"
        category = "retail"
        [[tiers]]
        code = "member"
        name = "Member"
        min_categories = 1
        cashback_bps = 300
        "#,
    )
    .unwrap();
    assert_eq!(config.bonus, BonusPolicy::default());
    assert_eq!(config.budget, BudgetPolicy::default());
    assert_eq!(config.budget.event_share, bps(200));
    assert_eq!(config.tiers.window(), StatusWindow::RollingDays(365));
    assert_eq!(config.tiers.downgrade_grace_days(), 30);
    assert!(!config.businesses[0].medical);
    assert!(!config.tiers.tiers()[0].invitation_only);
}

#[test]
fn a_broken_file_reports_every_problem_with_its_field_path() {
    let errors = TenantConfig::from_toml_str(
        r#"
        id = "svoy-krug"
        name = "Свой Круг"
        timezone = "Mars/Olympus_Mons"
        [bonus]
        hold_day = 14
        max_redeem_share_bps = 20000
        [[businesses]]
        id = "skinerica"
        name = "Skinerica"
        category = "Cosmetology"
        [[businesses]]
        id = "skinerica"
        name = "Skinerica again"
        category = "cosmetology"
        [[tiers]]
        code = "insider"
        name = "Insider"
        min_categories = 1
        cashback_bps = 500
        [[tiers]]
        code = "vip"
        name = "VIP"
        min_spend_kopecks = 3000000
        min_categories = 3
        cashback_bps = 700
        [[tiers]]
        code = "elite"
        name = "Elite"
        min_spend_kopecks = 2000000
        min_categories = 5
        cashback_bps = 1000
        "#,
    )
    .unwrap_err();
    assert_eq!(
        paths(&errors),
        [
            "bonus.hold_day",
            "timezone",
            "businesses[0].category",
            "businesses[1].id",
            "tiers[2].min_spend_kopecks",
            "bonus.max_redeem_share_bps",
        ],
        "{errors}"
    );
    let text = errors.to_string();
    assert!(text.contains("tiers[2].min_spend_kopecks: must be greater than tiers[1]\n"), "{text}");
    assert!(text.contains("bonus.max_redeem_share_bps: must be at most 10000 basis points (got 20000)"));
    assert!(text.contains("bonus.hold_day: unknown key; expected one of"), "{text}");
    assert_eq!(text.lines().count(), 6);
}

#[test]
fn a_toml_syntax_error_is_one_problem_at_its_position() {
    let errors = TenantConfig::from_toml_str("id = \"x\"\nname = = 1\n").unwrap_err();
    assert_eq!(errors.0.len(), 1);
    assert!(errors.0[0].path.starts_with("line 2, column "), "{errors}");
}

#[test]
fn missing_keys_sections_and_wrong_types_are_reported() {
    let errors = TenantConfig::from_toml_str(
        r#"
        id = "t1"
        timezone = "UTC"
        [status]
        window = "forever"
        [bonus]
        hold_days = 30
        expiry_days = 7
        rounding = "bankers"
        [budget]
        event_share_bps = "two percent"
        "#,
    )
    .unwrap_err();
    assert_eq!(
        paths(&errors),
        ["name", "budget.event_share_bps", "businesses", "tiers", "status.window", "bonus.hold_days", "bonus.rounding",],
        "{errors}"
    );
}

#[test]
fn an_unreadable_directory_is_a_problem_at_tenant_toml() {
    let errors = TenantConfig::load_dir(Path::new("/nonexistent/krug-tenant")).unwrap_err();
    assert_eq!(paths(&errors), ["tenant.toml"]);
}
