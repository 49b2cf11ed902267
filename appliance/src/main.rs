//! `krug`: the appliance's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use krug_appliance::{Application, Overrides, Settings};

/// Krug — coalition loyalty appliance.
#[derive(Parser)]
#[command(name = "krug", version, about)]
struct Cli {
    /// Settings file (TOML); `KRUG_*` variables override it.
    #[arg(long, global = true, env = "KRUG_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Seed demo staff for every partner and an operator, and print their logins.
        #[arg(long)]
        demo: bool,
    },
    /// Create or upgrade the store's schema, apply the configured tenants, and exit.
    Migrate,
    /// Print the OpenAPI spec (YAML).
    Openapi,
    /// Tenant configuration.
    Tenant {
        #[command(subcommand)]
        action: TenantAction,
    },
}

#[derive(Subcommand)]
enum TenantAction {
    /// Validate a tenant folder and print every problem.
    Check {
        /// The folder holding tenant.toml.
        dir: PathBuf,
    },
    /// Validate a tenant folder and apply it to the store.
    Apply {
        /// The folder holding tenant.toml.
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("KRUG_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let settings = || Settings::load(cli.config.as_deref(), std::env::vars()).map_err(|e| e.to_string());
    match cli.command {
        Command::Openapi => {
            print!("{}", krug_appliance::http::spec_yaml());
            Ok(())
        }
        Command::Tenant { action: TenantAction::Check { dir } } => {
            let config = krug::tenant::TenantConfig::load_dir(&dir).map_err(|e| e.to_string())?;
            println!(
                "{}: ok ({} businesses, {} tiers)",
                config.id,
                config.businesses.len(),
                config.tiers.tiers().len()
            );
            Ok(())
        }
        Command::Tenant { action: TenantAction::Apply { dir } } => {
            let mut s = settings()?;
            s.tenants = vec![dir];
            s.listen = "127.0.0.1:0".into();
            let app = Application::build(s, Overrides::default()).await.map_err(|e| e.to_string())?;
            app.state().krug.close().await;
            println!("applied");
            Ok(())
        }
        Command::Migrate => {
            let mut s = settings()?;
            s.listen = "127.0.0.1:0".into();
            let app = Application::build(s, Overrides::default()).await.map_err(|e| e.to_string())?;
            app.state().krug.close().await;
            println!("store is up to date");
            Ok(())
        }
        Command::Serve { demo } => {
            let mut s = settings()?;
            s.demo |= demo;
            if s.demo {
                krug_appliance::demo::prepare(&mut s).await.map_err(|e| e.to_string())?;
            }
            let app = Application::build(s, Overrides::default()).await.map_err(|e| e.to_string())?;
            if app.state().settings.demo {
                krug_appliance::demo::seed(app.state()).await.map_err(|e| e.to_string())?;
            }
            tracing::info!(port = app.port(), "listening; API docs at /docs");
            app.run_until_stopped().await.map_err(|e| e.to_string())
        }
    }
}
