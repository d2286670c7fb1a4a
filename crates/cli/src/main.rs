//! `codeexec`: the command-line entry point.
//!
//! - `codeexec doctor` checks that this host can sandbox and runs a box once.
//! - `codeexec box-run [--wall-ms N] [--cpu-ms N] [--memory-mb N] -- ARGV…` runs one
//!   command in a fresh box, with this process's stdin as its stdin, and exits with
//!   the program's exit code (or 128 + signal; 124 for a limit).

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use codeexec_sandbox::{BoxLimits, Limits, RunSpec, Sandbox, SandboxConfig, Status, Stream};

const USAGE: &str = "usage:
  codeexec doctor
  codeexec box-run [--wall-ms N] [--cpu-ms N] [--memory-mb N] -- PROGRAM [ARGS...]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("doctor") => doctor(),
        Some("box-run") => box_run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(format!("unknown or missing command\n{USAGE}")),
    };
    result.unwrap_or_else(|message| {
        eprintln!("codeexec: {message}");
        ExitCode::from(2)
    })
}

fn doctor() -> Result<ExitCode, String> {
    let sandbox = Sandbox::new(SandboxConfig::default()).map_err(|e| e.to_string())?;
    println!("sandbox: ok");
    println!("cgroups: {:?}", sandbox.cgroup_version());
    println!("state directory: {}", sandbox.config().state_dir.display());
    println!(
        "seccomp: {} system calls refused",
        codeexec_sandbox::DENIED_SYSCALLS.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_number(flag: &str, value: Option<&String>) -> Result<u64, String> {
    value
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

fn box_run(args: &[String]) -> Result<ExitCode, String> {
    let mut limits = Limits::default();
    let mut rest = args.iter();
    let mut argv = Vec::new();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--wall-ms" => {
                limits.wall_time = Duration::from_millis(parse_number(arg, rest.next())?)
            }
            "--cpu-ms" => limits.cpu_time = Duration::from_millis(parse_number(arg, rest.next())?),
            "--memory-mb" => limits.memory_bytes = parse_number(arg, rest.next())? << 20,
            "--" => {
                argv.extend(rest.by_ref().cloned());
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if argv.is_empty() {
        return Err(format!("no program given\n{USAGE}"));
    }
    let mut stdin = Vec::new();
    std::io::stdin()
        .read_to_end(&mut stdin)
        .map_err(|e| format!("reading stdin: {e}"))?;

    let sandbox = Sandbox::new(SandboxConfig {
        self_test: false,
        ..SandboxConfig::default()
    })
    .map_err(|e| e.to_string())?;
    let mut bx = sandbox
        .create_box(&BoxLimits::default())
        .map_err(|e| e.to_string())?;
    let spec = RunSpec::new(argv).stdin(stdin).limits(limits);
    let outcome = bx
        .run_observed(&spec, &mut |stream, bytes| {
            let _ = match stream {
                Stream::Stdout => std::io::stdout().write_all(bytes),
                Stream::Stderr => std::io::stderr().write_all(bytes),
            };
        })
        .map_err(|e| e.to_string())?;
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
