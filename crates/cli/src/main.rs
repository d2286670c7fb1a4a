//! `codeexec`: the command-line entry point.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Compile and run untrusted code in 45+ languages, in a sandbox it cannot leave.
#[derive(Parser)]
#[command(name = "codeexec", version)]
struct Cli {
    /// The catalogue directory (one TOML file per language).
    #[arg(long, global = true, env = "CODEEXEC_CATALOG")]
    catalog: Option<PathBuf>,
    /// Where pip/npm/deb-unpacked toolchains live.
    #[arg(long, global = true, env = "CODEEXEC_TOOLCHAINS")]
    toolchains: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (SQLite in the data directory; no other server needed).
    Serve(commands::serve::ServeArgs),
    /// Manage API keys.
    Keys(commands::keys::KeysArgs),
    /// Check that this host can sandbox, and what the catalogue offers here.
    Doctor,
    /// List the languages with at least one installed compiler.
    Languages {
        #[arg(long)]
        json: bool,
        /// A Markdown table (for the README).
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
    },
    /// List the installed compilers.
    Compilers {
        /// Only this language's (name, id or alias).
        #[arg(long)]
        language: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Compile and run a source file in the sandbox and print its output.
    Run(commands::run::RunArgs),
    /// List or install the catalogue's toolchains.
    Toolchains {
        #[command(subcommand)]
        action: commands::toolchains::Action,
    },
    /// Run one command in a fresh box (for debugging the sandbox).
    BoxRun(commands::boxrun::BoxRunArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = commands::Context::new(cli.catalog, cli.toolchains);
    let result = match cli.command {
        Command::Serve(args) => commands::serve::serve(&ctx, args),
        Command::Keys(args) => commands::keys::keys(args),
        Command::Doctor => commands::doctor::doctor(&ctx),
        Command::Languages { json, markdown } => commands::listing::languages(&ctx, json, markdown),
        Command::Compilers { language, json } => {
            commands::listing::compilers(&ctx, language.as_deref(), json)
        }
        Command::Run(args) => commands::run::run(&ctx, args),
        Command::Toolchains { action } => commands::toolchains::toolchains(&ctx, action),
        Command::BoxRun(args) => commands::boxrun::box_run(args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("codeexec: {e:#}");
        ExitCode::from(2)
    })
}
