//! `codeexec toolchains list|install`: what is installed, what is missing and why,
//! and the installer (Debian packages with apt; PyPI, npm and unpacked Debian
//! toolchains in their own directories under the toolchains root).

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use codeexec_catalog::install::{self, InstallOptions, Selection};
use codeexec_catalog::Catalog;

use super::Context;

#[derive(clap::Subcommand)]
pub enum Action {
    /// Every compiler of the catalogue: installed (with its version) or missing (why).
    List {
        #[arg(long)]
        json: bool,
        /// Only the missing ones.
        #[arg(long)]
        missing: bool,
    },
    /// Install toolchains (idempotent): `--all`, or compiler ids / languages.
    Install {
        #[arg(long, conflicts_with = "names")]
        all: bool,
        /// Compiler ids (`gcc-12`) or languages (`haskell`, meaning all of its compilers).
        names: Vec<String>,
        /// Run `apt-get update` first.
        #[arg(long)]
        update: bool,
        /// Print the commands instead of running them.
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn toolchains(ctx: &Context, action: Action) -> anyhow::Result<ExitCode> {
    let defs = ctx.definitions()?;
    match action {
        Action::List { json, missing } => {
            let catalog = Catalog::detect(&defs, &ctx.detect);
            let statuses: Vec<_> = install::status(&defs, &catalog)
                .into_iter()
                .filter(|s| !missing || !s.installed)
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&statuses)?);
            } else {
                for s in &statuses {
                    let mark = if s.installed { "ok     " } else { "MISSING" };
                    println!(
                        "{mark} {:<22} {:<14} {:<28} {}",
                        s.id, s.language, s.name, s.detail
                    );
                }
                println!(
                    "{} compiler(s) in {} language(s) installed; {} missing",
                    catalog.installed().len(),
                    catalog.languages().count(),
                    catalog.unavailable().len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Install {
            all,
            names,
            update,
            dry_run,
        } => {
            let selection = match (all, names.is_empty()) {
                (true, true) => Selection::All,
                (false, false) => Selection::Names(names),
                _ => bail!("give --all or compiler/language names"),
            };
            let opts = InstallOptions {
                toolchains_root: ctx.detect.toolchains_root.clone(),
                apt_update: update,
                dry_run,
            };
            let chosen = install::select(&defs, &selection).map_err(|e| anyhow!("{e}"))?;
            let plan = install::plan(&chosen, &opts.toolchains_root);
            install::execute(&plan, &opts, &mut |line| eprintln!("{line}"))
                .map_err(|e| anyhow!("{e}"))?;
            if dry_run {
                return Ok(ExitCode::SUCCESS);
            }
            // Say what the selection offers now.
            let catalog = Catalog::detect(&defs, &ctx.detect);
            let ids: Vec<&str> = chosen.iter().map(|c| c.id.as_str()).collect();
            let missing: Vec<_> = install::status(&defs, &catalog)
                .into_iter()
                .filter(|s| ids.contains(&s.id.as_str()) && !s.installed)
                .collect();
            for s in &missing {
                eprintln!("still missing: {} ({}): {}", s.id, s.language, s.detail);
            }
            eprintln!(
                "{} of {} selected compiler(s) available",
                ids.len() - missing.len(),
                ids.len()
            );
            Ok(if missing.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
