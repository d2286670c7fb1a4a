//! `codeexec keys create|list|revoke|set-plan`: API keys in the data directory's
//! store (the server may be running: SQLite handles the two writers).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use codeexec_server::clock::rfc3339_secs;
use codeexec_store::{Plan, SqliteStore, Store};

#[derive(clap::Args)]
pub struct KeysArgs {
    /// Where the server keeps its database.
    #[arg(
        long,
        global = true,
        env = "CODEEXEC_DATA_DIR",
        default_value = "/var/lib/codeexec"
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Make a key; its secret is printed once and stored only hashed.
    Create {
        #[arg(long, default_value = Plan::DEFAULT_NAME)]
        plan: String,
        #[arg(long)]
        name: String,
    },
    /// Every key: id, prefix, name, plan, created, revoked.
    List,
    /// Revoke a key (by id or prefix); its requests then get 403.
    Revoke { key: String },
    /// Move a key (by id or prefix) to another plan.
    SetPlan { key: String, plan: String },
}

fn check_plan(plan: &str) -> anyhow::Result<()> {
    let plans = Plan::defaults();
    if Plan::find(&plans, plan).is_none() {
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        bail!("unknown plan `{plan}`; plans: {}", names.join(", "));
    }
    Ok(())
}

pub fn keys(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let store = SqliteStore::open_in_dir(&args.data_dir)
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    match args.action {
        Action::Create { plan, name } => {
            check_plan(&plan)?;
            let (key, secret) = store.create_key(&name, &plan)?;
            println!("{secret}");
            eprintln!(
                "key {} ({}) on plan {}: the secret above is shown only now",
                key.id, key.prefix, key.plan
            );
        }
        Action::List => {
            for k in store.list_keys()? {
                println!(
                    "{:>4}  {}  {:<8} {:<24} created {}{}",
                    k.id,
                    k.prefix,
                    k.plan,
                    k.name,
                    rfc3339_secs(k.created_at),
                    k.revoked_at
                        .map(|t| format!("  REVOKED {}", rfc3339_secs(t)))
                        .unwrap_or_default()
                );
            }
        }
        Action::Revoke { key } => {
            let k = store.revoke_key(&key)?;
            println!("revoked key {} ({})", k.id, k.prefix);
        }
        Action::SetPlan { key, plan } => {
            check_plan(&plan)?;
            let k = store.set_plan(&key, &plan)?;
            println!("key {} ({}) is now on plan {}", k.id, k.prefix, k.plan);
        }
    }
    Ok(ExitCode::SUCCESS)
}
