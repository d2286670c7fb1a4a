//! `codeexec box-run -- ARGV…`: one command in a fresh box, with this process's stdin;
//! exits with the program's code (128 + signal; 124 when a limit ended it).

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use codeexec_sandbox::{BoxLimits, Limits, RunSpec, Sandbox, SandboxConfig, Status, Stream};

#[derive(clap::Args)]
pub struct BoxRunArgs {
    #[arg(long)]
    wall_ms: Option<u64>,
    #[arg(long)]
    cpu_ms: Option<u64>,
    #[arg(long)]
    memory_mb: Option<u64>,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    argv: Vec<String>,
}

pub fn box_run(args: BoxRunArgs) -> anyhow::Result<ExitCode> {
    let mut limits = Limits::default();
    if let Some(ms) = args.wall_ms {
        limits.wall_time = Duration::from_millis(ms);
    }
    if let Some(ms) = args.cpu_ms {
        limits.cpu_time = Duration::from_millis(ms);
    }
    if let Some(mb) = args.memory_mb {
        limits.memory_bytes = mb << 20;
    }
    let mut stdin = Vec::new();
    std::io::stdin()
        .read_to_end(&mut stdin)
        .context("reading stdin")?;
    let sandbox = Sandbox::new(SandboxConfig {
        self_test: false,
        ..SandboxConfig::default()
    })?;
    let mut bx = sandbox.create_box(&BoxLimits::default())?;
    let spec = RunSpec::new(args.argv).stdin(stdin).limits(limits);
    let outcome = bx.run_observed(&spec, &mut |stream, bytes| {
        let _ = match stream {
            Stream::Stdout => std::io::stdout().write_all(bytes),
            Stream::Stderr => std::io::stderr().write_all(bytes),
        };
    })?;
    eprintln!(
        "[codeexec] status={:?} exit_code={:?} signal={:?} limit={} wall={:.1}ms cpu={:.1}ms memory_peak={}",
        outcome.status,
        outcome.exit_code,
        outcome.signal,
        outcome.limit.map_or("none", |l| l.as_str()),
        outcome.wall_time.as_secs_f64() * 1e3,
        outcome.cpu_time.as_secs_f64() * 1e3,
        outcome
            .memory_peak_bytes
            .map_or("n/a".to_string(), |b| format!("{}KiB", b / 1024)),
    );
    Ok(match outcome.status {
        Status::Exited => ExitCode::from(outcome.exit_code.unwrap_or(1) as u8),
        Status::Signaled => ExitCode::from(128 + outcome.signal.unwrap_or(0) as u8),
        Status::LimitExceeded => ExitCode::from(124),
    })
}
