//! `codeexec run FILE`: compile and run a file in the sandbox, like the API would.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context as _};
use codeexec_catalog::split_raw;
use codeexec_engine::{run_job, Event, Job, JobStatus, Step};
use codeexec_sandbox::Stream;

use super::Context;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The source file; its extension picks the language unless --language is given.
    file: PathBuf,
    /// A language (name, id or alias) or a compiler name.
    #[arg(long, short)]
    language: Option<String>,
    /// An exact compiler name (see `codeexec compilers`).
    #[arg(long, short)]
    compiler: Option<String>,
    /// Switch names, comma-separated (see `codeexec compilers --json`).
    #[arg(long, short)]
    options: Option<String>,
    /// Raw compiler options, one per line.
    #[arg(long)]
    compiler_options: Option<String>,
    /// A file to use as stdin (`-` for this process's stdin); none by default.
    #[arg(long)]
    stdin: Option<PathBuf>,
    /// Arguments for the program.
    #[arg(last = true)]
    args: Vec<String>,
}

pub fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<ExitCode> {
    let code =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let catalog = ctx.catalog()?;
    let language = match (&args.language, &args.compiler) {
        (Some(l), _) => l.clone(),
        (None, Some(_)) => String::new(),
        (None, None) => {
            let name = args.file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            catalog
                .language_for_file(name)
                .map(|l| l.id.clone())
                .ok_or_else(|| {
                    anyhow!(
                        "cannot tell the language of `{name}` from its extension: give --language"
                    )
                })?
        }
    };
    let options: Vec<String> = args
        .options
        .iter()
        .flat_map(|o| o.split(','))
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(String::from)
        .collect();
    let compiler_raw = args
        .compiler_options
        .as_deref()
        .map(split_raw)
        .unwrap_or_default();
    let recipe = catalog
        .resolve(
            &language,
            args.compiler.as_deref(),
            &options,
            &compiler_raw,
            &[],
        )
        .map_err(|e| anyhow!("{e}"))?;
    let mut job = Job::new(recipe, code);
    job.args = args.args;
    job.stdin = match &args.stdin {
        None => Vec::new(),
        Some(p) if p.as_os_str() == "-" => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf)?;
            buf
        }
        Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
    };

    let sandbox = ctx.sandbox(&catalog, false)?;
    let result = run_job(&sandbox, &job, &mut |event| {
        // The program's output goes straight through; the compiler's to stderr.
        if let Event::Output {
            step,
            stream,
            bytes,
        } = event
        {
            let _ = match (step, stream) {
                (Step::Run, Stream::Stdout) => std::io::stdout().write_all(bytes),
                _ => std::io::stderr().write_all(bytes),
            };
        }
    });
    let _ = std::io::stdout().flush();
    let run = result.run.as_ref();
    eprintln!(
        "[{}] status={} exit_code={} time={}ms memory={}",
        job.recipe.compiler,
        result.status.as_str(),
        run.and_then(|r| r.exit_code)
            .map_or("-".into(), |c| c.to_string()),
        run.map_or(0, |r| r.wall_time_ms),
        run.and_then(|r| r.memory_kb)
            .map_or("-".into(), |k| format!("{k}KiB")),
    );
    if let Some(e) = &result.internal_error {
        eprintln!("internal error: {e}");
    }
    Ok(match result.status {
        JobStatus::Ok => ExitCode::SUCCESS,
        JobStatus::RuntimeError => {
            ExitCode::from(run.and_then(|r| r.exit_code).unwrap_or(1).clamp(1, 255) as u8)
        }
        JobStatus::InternalError => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    })
}
