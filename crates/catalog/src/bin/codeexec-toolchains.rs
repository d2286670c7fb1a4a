//! `codeexec-toolchains`: list and install the catalogue's toolchains (for CI and for
//! first-time setup; the `codeexec toolchains` subcommand does the same).
//!
//! ```text
//! codeexec-toolchains [--catalog DIR] [--root DIR] list [--json] [--missing]
//! codeexec-toolchains [--catalog DIR] [--root DIR] install [--update] [--dry-run] (--all | NAME...)
//! codeexec-toolchains [--catalog DIR] plan (--all | NAME...)
//! ```
//!
//! Templates are checked in the sandbox by the engine's conformance suite
//! (`cargo test -p codeexec-engine --test conformance`).

use std::path::PathBuf;
use std::process::ExitCode;

use codeexec_catalog::install::{self, InstallOptions, Selection};
use codeexec_catalog::{Catalog, Definitions, DetectOptions};

const USAGE: &str = "usage: codeexec-toolchains [--catalog DIR] [--root DIR] \
list [--json] [--missing] | install [--update] [--dry-run] (--all | NAME...) | plan (--all | NAME...)";

fn main() -> ExitCode {
    match real_main(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("codeexec-toolchains: {msg}");
            ExitCode::from(2)
        }
    }
}

fn real_main(args: Vec<String>) -> Result<ExitCode, String> {
    let mut catalog_dir = std::env::var_os("CODEEXEC_CATALOG")
        .map(PathBuf::from)
        .unwrap_or_else(codeexec_catalog::source_catalog_dir);
    let mut detect = DetectOptions::default();
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--catalog" => catalog_dir = it.next().ok_or("--catalog needs a directory")?.into(),
            "--root" => {
                detect.toolchains_root = it.next().ok_or("--root needs a directory")?.into()
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            _ => rest.push(a),
        }
    }
    let defs = Definitions::load_dir(&catalog_dir).map_err(|e| e.to_string())?;
    let (command, flags) = rest.split_first().ok_or(USAGE)?;
    match command.as_str() {
        "list" => list(&defs, &detect, flags),
        "install" | "plan" => {
            let mut opts = InstallOptions {
                toolchains_root: detect.toolchains_root.clone(),
                apt_update: false,
                dry_run: command == "plan",
            };
            let mut all = false;
            let mut names = Vec::new();
            for f in flags {
                match f.as_str() {
                    "--all" => all = true,
                    "--update" => opts.apt_update = true,
                    "--dry-run" => opts.dry_run = true,
                    s if s.starts_with('-') => return Err(format!("unknown flag {s}\n{USAGE}")),
                    s => names.push(s.to_owned()),
                }
            }
            let selection = match (all, names.is_empty()) {
                (true, true) => Selection::All,
                (false, false) => Selection::Names(names),
                _ => return Err(format!("give --all or names, not both or neither\n{USAGE}")),
            };
            let chosen = install::select(&defs, &selection).map_err(|e| e.to_string())?;
            let plan = install::plan(&chosen, &opts.toolchains_root);
            install::execute(&plan, &opts, &mut |line| eprintln!("{line}"))
                .map_err(|e| e.to_string())?;
            if opts.dry_run {
                return Ok(ExitCode::SUCCESS);
            }
            // Report what the selection now offers.
            let catalog = Catalog::detect(&defs, &detect);
            let statuses = install::status(&defs, &catalog);
            let ids: Vec<&str> = chosen.iter().map(|c| c.id.as_str()).collect();
            let mut failed = 0;
            for s in statuses.iter().filter(|s| ids.contains(&s.id.as_str())) {
                if !s.installed {
                    failed += 1;
                    eprintln!("still missing: {} ({}): {}", s.id, s.language, s.detail);
                }
            }
            eprintln!(
                "{} of {} selected compiler(s) available",
                ids.len() - failed,
                ids.len()
            );
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    }
}

fn list(defs: &Definitions, detect: &DetectOptions, flags: &[String]) -> Result<ExitCode, String> {
    let mut json = false;
    let mut missing_only = false;
    for f in flags {
        match f.as_str() {
            "--json" => json = true,
            "--missing" => missing_only = true,
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    let catalog = Catalog::detect(defs, detect);
    let statuses: Vec<_> = install::status(defs, &catalog)
        .into_iter()
        .filter(|s| !missing_only || !s.installed)
        .collect();
    if json {
        // Hand-rolled to keep serde_json out of the library's dependencies.
        let rows: Vec<String> = statuses
            .iter()
            .map(|s| {
                format!(
                    "{{\"id\":{},\"language\":{},\"name\":{},\"installed\":{},\"detail\":{}}}",
                    quote(&s.id),
                    quote(&s.language),
                    quote(&s.name),
                    s.installed,
                    quote(&s.detail)
                )
            })
            .collect();
        println!("[{}]", rows.join(",\n "));
    } else {
        for s in &statuses {
            let mark = if s.installed { "ok     " } else { "MISSING" };
            println!(
                "{mark} {:<22} {:<14} {:<28} {}",
                s.id, s.language, s.name, s.detail
            );
        }
        let installed = catalog.installed().len();
        let languages = catalog.languages().count();
        println!(
            "{installed} compiler(s) in {languages} language(s) available; {} missing",
            catalog.unavailable().len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
