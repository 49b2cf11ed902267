//! `serve --demo`: seeds an owner and a cashier for every partner and an operator per tenant,
//! and a superadmin password, so a newcomer can walk every flow through Swagger UI. SMS codes go
//! to the log (the development gateway). Never use `--demo` with real data.

use crate::settings::Settings;
use crate::state::AppState;

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "krug-demo-password";

/// Gives the superadmin the demo password unless one is configured.
pub async fn prepare(settings: &mut Settings) -> Result<(), krug::Error> {
    if settings.superadmin_password_hash.is_none() {
        settings.superadmin_password_hash = Some(krug::hash_secret(DEMO_PASSWORD).await?);
    }
    Ok(())
}

/// Seeds the demo accounts (idempotently: existing logins are left as they are) and prints them.
pub async fn seed(state: &AppState) -> Result<(), krug::Error> {
    let mut lines = vec![format!("superadmin: {} / {DEMO_PASSWORD}", state.settings.superadmin_login)];
    for tenant in state.krug.hosted_tenants() {
        let config = state.krug.tenant_config(&tenant)?;
        let mut accounts = vec![("operator".to_owned(), krug::Role::Operator, None)];
        for b in &config.businesses {
            accounts.push((format!("{}.owner", b.id), krug::Role::Owner, Some(b.id.clone())));
            accounts.push((format!("{}.cashier", b.id), krug::Role::Cashier, Some(b.id.clone())));
        }
        for (login, role, business) in accounts {
            let created = state
                .krug
                .create_staff(
                    &tenant,
                    krug::NewStaff {
                        login: login.clone(),
                        password: DEMO_PASSWORD.to_owned(),
                        role,
                        business,
                        actor: "demo".into(),
                        client: None,
                    },
                )
                .await;
            match created {
                Ok(_) | Err(krug::Error::LoginTaken) => {}
                Err(e) => return Err(e),
            }
            lines.push(format!("{tenant}: {login} / {DEMO_PASSWORD} ({})", role.as_str()));
        }
    }
    println!("Demo accounts (POST /v1/auth/staff-login; members sign in by SMS, codes appear in the log):");
    for line in lines {
        println!("  {line}");
    }
    Ok(())
}
