//! Embedding Krug: one handle over SQLite, the shipped `svoy-krug` tenant, a member who earns,
//! spends and refunds. Run it with `cargo run -p krug --example embed`; the README shows the
//! same code.

use std::path::Path;

use krug::pii::{KeyId, KeyRing};
use krug::tenant::TenantConfig;
use krug::types::{Bonus, BusinessId, Kopecks, Phone};
use krug::{Adjust, Krug, RecordPurchase, RefundPurchase, RegisterMember};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The tenant: partners, tiers and bonus rules, validated as a whole (every problem reported).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tenants/svoy-krug");
    let config = TenantConfig::load_dir(&dir).map_err(krug::Error::Config)?;
    let tenant = config.id.clone();

    // The tenant's personal-data keys. Generate once, keep `keys.to_toml_string()` as a secret
    // and load it with `KeyRing::from_toml_str` on every later start.
    let keys = KeyRing::generate(KeyId::parse("k1")?);

    // A fresh database for the demo; an appliance keeps one file (or a PostgreSQL URL).
    let path = std::env::temp_dir().join("krug-embed-example.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let krug =
        Krug::builder().sqlite(&format!("sqlite://{}?mode=rwc", path.display())).tenant(config, keys).build().await?;

    // Only the phone is required; it is stored encrypted and found again in any written form.
    let member = krug.register_member(&tenant, RegisterMember::phone(Phone::parse("8 (912) 345-67-89")?)).await?;
    assert_eq!(krug.find_member_by_phone(&tenant, &Phone::parse("+7 912 3456789")?).await?, Some(member));

    // A welcome credit by an operator is spendable at once (cashback waits out the 14-day hold).
    krug.adjust(
        &tenant,
        Adjust {
            member,
            amount: Bonus::new(50_000)?, // 500 ₽ of bonuses
            reason: "welcome bonus".into(),
            actor: "onboarding".into(),
            funded_by: None,
            key: format!("welcome-{member}"),
        },
    )
    .await?;

    // 1,500 ₽ at Skinerica, 300 ₽ of it paid with bonuses (the cap is 30 %, 450 ₽). Cashback
    // accrues on the 1,200 ₽ paid with money at the tier this purchase reaches (Insider, 5 %).
    let skinerica = BusinessId::parse("skinerica")?;
    let receipt = krug
        .record_purchase(
            &tenant,
            RecordPurchase::new(member, skinerica, Kopecks::rubles(1_500)?, "SK-0001").redeem(Bonus::new(30_000)?),
        )
        .await?;
    println!(
        "paid {} with money and {} with bonuses; cashback {} at {} bps, spendable from {}; tier {:?}",
        receipt.paid,
        receipt.redeemed,
        receipt.cashback,
        receipt.cashback_rate.get(),
        receipt.cashback_available_at,
        receipt.tier_after,
    );

    // A third of the purchase comes back: a third of the cashback is taken back and a third of
    // the spent bonuses returned. Retrying with the same refund id changes nothing.
    let refund = krug
        .refund(
            &tenant,
            RefundPurchase {
                purchase: receipt.purchase,
                refund_id: "SK-0001-r1".into(),
                amount: Some(Kopecks::rubles(500)?),
            },
        )
        .await?;
    println!(
        "refunded {}: cashback reversed {}, bonuses returned {}",
        refund.amount, refund.cashback_reversed, refund.bonus_returned
    );

    let balance = krug.balance(&tenant, member).await?;
    println!("available {}, pending {}", balance.available, balance.pending);
    let status = krug.status(&tenant, member).await?;
    println!("tier {:?} at {} bps, window spend {}", status.tier, status.cashback_rate.get(), status.window_spend);

    krug.close().await;
    Ok(())
}
