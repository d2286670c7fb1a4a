//! `codeexec serve`: the HTTP API with embedded defaults (SQLite in the data
//! directory, no other server), until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use codeexec_engine::{Engine, EngineConfig};
use codeexec_server::ServerConfig;
use codeexec_store::{SqliteStore, Store};

use super::Context;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CODEEXEC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the SQLite database (keys, usage, permlinks) lives.
    #[arg(long, env = "CODEEXEC_DATA_DIR", default_value = "/var/lib/codeexec")]
    data_dir: PathBuf,
    /// Base URL of permlinks (`https://run.example.org`); default: the request's Host.
    #[arg(long, env = "CODEEXEC_PUBLIC_URL")]
    public_url: Option<String>,
    /// No API keys, rate limits or quotas (a local single-user server).
    #[arg(long, env = "CODEEXEC_NO_AUTH")]
    no_auth: bool,
    /// Jobs running at once (default: the number of CPUs).
    #[arg(long, env = "CODEEXEC_SLOTS")]
    slots: Option<usize>,
    /// Jobs that may wait for a slot before requests get 503.
    #[arg(long, env = "CODEEXEC_QUEUE_LIMIT")]
    queue_limit: Option<usize>,
    /// Seconds running jobs may take to finish after SIGTERM.
    #[arg(long, env = "CODEEXEC_SHUTDOWN_GRACE", default_value_t = 30)]
    shutdown_grace: u64,
    /// A compiler name of another service mapped to ours, for drop-in clients
    /// (`gcc-13.2.0=gcc-12.2.0`); repeat for more.
    #[arg(long = "compiler-alias", value_parser = parse_alias)]
    compiler_aliases: Vec<(String, String)>,
    /// Size budget of the compile cache (in the data directory), in MiB; 0 turns
    /// it off. Identical compiles then run once; programs always run.
    #[arg(long, env = "CODEEXEC_COMPILE_CACHE_MB", default_value_t = 1024)]
    compile_cache_mb: u64,
    /// Log format.
    #[arg(long, env = "CODEEXEC_LOG_FORMAT", value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
}

fn parse_alias(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((from, to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
            Ok((from.trim().to_string(), to.trim().to_string()))
        }
        _ => Err(format!(
            "`{s}`: expected THEIRS=OURS, e.g. gcc-13.2.0=gcc-12.2.0"
        )),
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CODEEXEC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!("codeexec: shutting down: no new requests; waiting for running jobs");
}

pub fn serve(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging(&args.log_format);
    let defaults = EngineConfig::default();
    let config = ServerConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        public_base_url: args.public_url,
        auth: !args.no_auth,
        engine: EngineConfig {
            slots: args.slots.unwrap_or(defaults.slots),
            queue_limit: args.queue_limit.unwrap_or(defaults.queue_limit),
        },
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        compiler_aliases: args.compiler_aliases.into_iter().collect(),
        compile_cache_bytes: args.compile_cache_mb << 20,
        ..ServerConfig::default()
    };
    let catalog = ctx.catalog()?;
    eprintln!(
        "codeexec: {} compilers in {} languages ({} not installed: `codeexec toolchains list --missing`)",
        catalog.installed().len(),
        catalog.languages().count(),
        catalog.unavailable().len()
    );
    let engine = codeexec_server::with_compile_cache(
        Engine::new(ctx.sandbox(&catalog, true)?, config.engine),
        &config,
    )?;
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open_in_dir(&config.data_dir)
            .with_context(|| format!("opening the store in {}", config.data_dir.display()))?,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(codeexec_server::serve(
        config,
        catalog,
        engine,
        store,
        shutdown_signal(),
    ))?;
    Ok(ExitCode::SUCCESS)
}
