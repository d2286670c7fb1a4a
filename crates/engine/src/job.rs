//! One job, start to end, on the calling thread: box, stage, compile, run, destroy.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codeexec_catalog::Recipe;
use codeexec_sandbox::{
    default_env, BoxHandle, BoxLimits, Limits, Outcome, RunControl, RunSpec, Sandbox, Status,
    Stream,
};

use crate::cache::ustar::{self, Artefact};
use crate::cache::{CacheKey, CompileCache, Compiled, Data, Mapping, ARCHIVER};
use crate::result::{JobResult, JobStatus, StepResult};

/// A file to place in the box's working directory before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Relative path below the working directory (checked against traversal).
    pub name: String,
    pub content: Vec<u8>,
}

/// The limits one job runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLimits {
    pub compile_wall: Duration,
    pub compile_cpu: Duration,
    pub run_wall: Duration,
    pub run_cpu: Duration,
    /// Memory of the run step's whole tree.
    pub memory_bytes: u64,
    /// Memory of each compile step's whole tree.
    pub compile_memory_bytes: u64,
    pub processes: u32,
    pub open_files: u64,
    pub file_size_bytes: u64,
    /// Kept per stream and step; past it the step is killed.
    pub output_bytes: usize,
    /// Size of the box's tmpfs (working directory, /tmp, /dev/shm together).
    pub disk_bytes: u64,
}

impl JobLimits {
    /// The recipe's limits. A compile step may use every CPU for its whole wall
    /// time (compilers run threads); its wall clock is the limit that binds.
    pub fn from_recipe(recipe: &Recipe) -> JobLimits {
        let l = &recipe.limits;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        JobLimits {
            compile_wall: Duration::from_millis(l.compile_time_ms),
            compile_cpu: Duration::from_millis(l.compile_time_ms) * cpus,
            run_wall: Duration::from_millis(l.run_time_ms),
            run_cpu: Duration::from_millis(l.cpu_time_ms),
            memory_bytes: l.memory_mb << 20,
            compile_memory_bytes: l.memory_mb << 20,
            processes: l.processes,
            open_files: u64::from(l.open_files),
            file_size_bytes: l.file_size_mb << 20,
            output_bytes: (l.output_kb as usize) << 10,
            disk_bytes: BoxLimits::default().disk_bytes.max(l.file_size_mb << 21),
        }
    }

    fn sandbox_limits(&self, wall: Duration, cpu: Duration, memory_bytes: u64) -> Limits {
        Limits {
            wall_time: wall,
            cpu_time: cpu,
            memory_bytes,
            max_processes: self.processes,
            stdout_bytes: self.output_bytes,
            stderr_bytes: self.output_bytes,
            file_size_bytes: self.file_size_bytes,
            open_files: self.open_files,
            ..Limits::default()
        }
    }
}

/// A request, resolved and ready to run.
#[derive(Debug, Clone)]
pub struct Job {
    pub recipe: Recipe,
    /// The main source (named `recipe.source_file`) first, then any others.
    pub files: Vec<SourceFile>,
    pub stdin: Vec<u8>,
    /// Arguments appended to the run command.
    pub args: Vec<String>,
    pub limits: JobLimits,
}

impl Job {
    /// A job for `code` as the recipe's main source, with the recipe's limits.
    pub fn new(recipe: Recipe, code: impl Into<Vec<u8>>) -> Job {
        let limits = JobLimits::from_recipe(&recipe);
        Job {
            files: vec![SourceFile {
                name: recipe.source_file.clone(),
                content: code.into(),
            }],
            recipe,
            stdin: Vec::new(),
            args: Vec::new(),
            limits,
        }
    }
}

/// Which step an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Compile,
    Run,
}

/// What a job reports while it runs (for streaming APIs).
#[derive(Debug)]
pub enum Event<'a> {
    /// A step began.
    Started(Step),
    /// A chunk of output, as it arrived.
    Output {
        step: Step,
        stream: Stream,
        bytes: &'a [u8],
    },
}

fn env_of(recipe: &Recipe) -> Vec<(OsString, OsString)> {
    let mut env = default_env();
    for (key, value) in &recipe.env {
        let key = OsString::from(key);
        env.retain(|(k, _)| *k != key);
        env.push((key, OsString::from(value)));
    }
    env
}

/// Runs one step and collects its merged output.
fn step(
    bx: &mut BoxHandle,
    spec: &RunSpec,
    which: Step,
    events: &mut dyn FnMut(Event<'_>),
    cancel: Option<&RunControl>,
    stdin: Option<OwnedFd>,
) -> Result<(Outcome, Vec<u8>), String> {
    events(Event::Started(which));
    let mut merged = Vec::new();
    let mut observer = |stream, bytes: &[u8]| {
        merged.extend_from_slice(bytes);
        events(Event::Output {
            step: which,
            stream,
            bytes,
        });
    };
    let outcome = match stdin {
        Some(fd) => bx.run_with_stdin(spec, fd, &mut observer, cancel),
        None => bx.run_with(spec, &mut observer, cancel),
    }
    .map_err(|e| e.to_string())?;
    Ok((outcome, merged))
}

/// Folds a later compile step's result into the earlier ones.
fn fold(total: Option<StepResult>, next: StepResult) -> StepResult {
    let Some(mut t) = total else { return next };
    t.exit_code = next.exit_code;
    t.signal = next.signal;
    t.limit = next.limit;
    t.stdout.extend(next.stdout);
    t.stderr.extend(next.stderr);
    t.merged.extend(next.merged);
    t.stdout_truncated |= next.stdout_truncated;
    t.stderr_truncated |= next.stderr_truncated;
    t.wall_time_ms += next.wall_time_ms;
    t.cpu_time_ms += next.cpu_time_ms;
    t.memory_kb = t.memory_kb.max(next.memory_kb);
    t
}

/// Runs a job to the end on this thread. Never panics on the program's account:
/// whatever codeexec itself fails at is an `internal_error` result.
pub fn run_job(sandbox: &Sandbox, job: &Job, events: &mut dyn FnMut(Event<'_>)) -> JobResult {
    run_job_with(sandbox, job, events, None)
}

/// Like [`run_job`], compiling through `cache`: an identical earlier compile's
/// result and working directory are reused instead of compiling again.
pub fn run_job_cached(
    sandbox: &Sandbox,
    cache: &CompileCache,
    job: &Job,
    events: &mut dyn FnMut(Event<'_>),
) -> JobResult {
    run_job_io(sandbox, job, events, None, None, Some(cache))
}

/// Like [`run_job`]; `cancel` stops the job early (its result then says so as an
/// internal error, for nobody is waiting for it).
pub fn run_job_with(
    sandbox: &Sandbox,
    job: &Job,
    events: &mut dyn FnMut(Event<'_>),
    cancel: Option<&RunControl>,
) -> JobResult {
    run_job_io(sandbox, job, events, cancel, None, None)
}

/// Like [`run_job_with`], with the program's stdin read from `stdin` (the read end
/// of a pipe fed while it runs) instead of `job.stdin`. Compile steps get no input.
pub fn run_job_interactive(
    sandbox: &Sandbox,
    job: &Job,
    events: &mut dyn FnMut(Event<'_>),
    cancel: Option<&RunControl>,
    stdin: OwnedFd,
) -> JobResult {
    run_job_io(sandbox, job, events, cancel, Some(stdin), None)
}

pub(crate) fn run_job_io(
    sandbox: &Sandbox,
    job: &Job,
    events: &mut dyn FnMut(Event<'_>),
    cancel: Option<&RunControl>,
    stdin: Option<OwnedFd>,
    cache: Option<&CompileCache>,
) -> JobResult {
    let box_limits = BoxLimits {
        disk_bytes: job.limits.disk_bytes,
        ..BoxLimits::default()
    };
    let mut bx = match sandbox.create_box(&box_limits) {
        Ok(bx) => bx,
        Err(e) => return JobResult::internal(format!("creating a box: {e}"), None),
    };
    let env = env_of(&job.recipe);
    let limits = &job.limits;
    let cache = cache
        .filter(|_| !job.recipe.compile.is_empty())
        .map(|cache| (cache, CacheKey::of(job, &env)));

    let compile = match cache.as_ref().and_then(|(c, key)| c.get(key)) {
        Some(hit) => match reuse(&mut bx, hit, events) {
            Ok(step) => Some(step),
            Err(ended) => return *ended,
        },
        None => {
            for file in &job.files {
                if let Err(e) = bx.stage_file(&file.name, &file.content, false) {
                    return JobResult::internal(format!("staging {}: {e}", file.name), None);
                }
            }
            match compile_steps(&mut bx, job, &env, events, cancel) {
                Ok(compile) => {
                    if let (Some((cache, key)), Some(step)) = (&cache, &compile) {
                        keep(&mut bx, cache, key, step, cancel);
                    }
                    compile
                }
                Err(failed) => {
                    if let (Some((cache, key)), Some(step)) = (&cache, &failed.compile) {
                        if failed.status == JobStatus::CompileError && step.signal.is_none() {
                            // The compiler's own verdict on these sources: keep it too.
                            cache.put(key, Compiled::result_only(step.clone()));
                        }
                    }
                    return *failed;
                }
            }
        }
    };

    let mut spec = RunSpec::new(
        job.recipe
            .run
            .iter()
            .chain(job.args.iter())
            .map(OsString::from),
    );
    spec.env = env;
    if stdin.is_none() {
        spec.stdin = job.stdin.clone();
    }
    spec.limits = limits.sandbox_limits(limits.run_wall, limits.run_cpu, limits.memory_bytes);
    let (outcome, merged) = match step(&mut bx, &spec, Step::Run, events, cancel, stdin) {
        Ok(r) => r,
        Err(e) => return JobResult::internal(format!("running: {e}"), compile),
    };
    let status = StepResult::status_of(&outcome);
    let run = Some(StepResult::new(outcome, merged));
    if let Err(e) = bx.destroy() {
        return JobResult {
            internal_error: Some(format!("destroying the box: {e}")),
            status: JobStatus::InternalError,
            compile,
            run,
        };
    }
    JobResult {
        status,
        compile,
        run,
        internal_error: None,
    }
}

/// Runs the recipe's compile steps in order. `Ok` with their folded result (`None`
/// for interpreters) when all succeeded; `Err` with the job's final result when one
/// failed.
fn compile_steps(
    bx: &mut BoxHandle,
    job: &Job,
    env: &[(OsString, OsString)],
    events: &mut dyn FnMut(Event<'_>),
    cancel: Option<&RunControl>,
) -> Result<Option<StepResult>, Box<JobResult>> {
    let limits = &job.limits;
    let mut compile: Option<StepResult> = None;
    for argv in &job.recipe.compile {
        let mut spec = RunSpec::new(argv.iter().map(OsString::from));
        spec.env = env.to_vec();
        spec.limits = limits.sandbox_limits(
            limits.compile_wall,
            limits.compile_cpu,
            limits.compile_memory_bytes,
        );
        let (outcome, merged) = match step(bx, &spec, Step::Compile, events, cancel, None) {
            Ok(r) => r,
            Err(e) => {
                return Err(Box::new(JobResult::internal(
                    format!("compiling: {e}"),
                    compile,
                )))
            }
        };
        let status = StepResult::status_of(&outcome);
        compile = Some(fold(compile, StepResult::new(outcome, merged)));
        if status != JobStatus::Ok {
            let status = match status {
                JobStatus::RuntimeError | JobStatus::Signaled => JobStatus::CompileError,
                limit => limit,
            };
            return Err(Box::new(JobResult {
                status,
                compile,
                run: None,
                internal_error: None,
            }));
        }
    }
    Ok(compile)
}

/// Starts a job from a cached compile: replays the compiler's messages and, if it
/// succeeded, stages the working directory it left. `Err` with the job's final
/// result when the cached compile failed (or staging did).
fn reuse(
    bx: &mut BoxHandle,
    hit: Arc<Compiled>,
    events: &mut dyn FnMut(Event<'_>),
) -> Result<StepResult, Box<JobResult>> {
    let started = Instant::now();
    events(Event::Started(Step::Compile));
    for (stream, bytes) in [
        (Stream::Stdout, &hit.step.stdout),
        (Stream::Stderr, &hit.step.stderr),
    ] {
        if !bytes.is_empty() {
            events(Event::Output {
                step: Step::Compile,
                stream,
                bytes,
            });
        }
    }
    for artefact in &hit.artefacts {
        let staged = match artefact {
            Artefact::Dir { path } => bx.stage_dir(path),
            Artefact::File {
                path,
                executable,
                content,
            } => bx.stage_file(path, &hit.data[content.clone()], *executable),
        };
        if let Err(e) = staged {
            return Err(Box::new(JobResult::internal(
                format!("staging {} from the compile cache: {e}", artefact.path()),
                None,
            )));
        }
    }
    let step = StepResult {
        // What this job spent: restoring, not compiling.
        wall_time_ms: started.elapsed().as_millis() as u64,
        cpu_time_ms: 0,
        memory_kb: None,
        cached: true,
        ..hit.step.clone()
    };
    if step.exit_code == Some(0) {
        Ok(step)
    } else {
        Err(Box::new(JobResult {
            status: JobStatus::CompileError,
            compile: Some(step),
            run: None,
            internal_error: None,
        }))
    }
}

/// After a successful compile: has the box's archiver write the working directory
/// to its stdout (a memory file the host holds, not a path in the box) and keeps it
/// with the compile's result. A directory that cannot be read out whole and plain
/// is simply not kept.
fn keep(
    bx: &mut BoxHandle,
    cache: &CompileCache,
    key: &CacheKey,
    compiled: &StepResult,
    cancel: Option<&RunControl>,
) {
    // `./.*`: HOME is the working directory, and toolchains keep their own caches
    // in dot-directories there (Go's build cache alone is hundreds of MB).
    // 64 KiB records instead of tar's 10 KiB: a 12 MB binary archives in 7 ms
    // instead of 10; the last record's padding is at most 64 KiB of zeros.
    let mut spec = RunSpec::new([
        ARCHIVER,
        "--create",
        "--format=ustar",
        "--file=-",
        "--blocking-factor=128",
        "--numeric-owner",
        "--exclude=./.*",
        ".",
    ]);
    let max = cache.max_entry_bytes();
    spec.limits = Limits {
        wall_time: Duration::from_secs(10),
        cpu_time: Duration::from_secs(10),
        // The memory file's pages are charged to the archiver.
        memory_bytes: max + (64 << 20),
        max_processes: 4,
        stderr_bytes: 4096,
        file_size_bytes: max,
        ..Limits::default()
    };
    // Every process of the box that could write the file is gone once the run
    // returns, so mapping it is safe (see `Mapping::of`).
    let archive = match bx.run_to_memory_file(&spec, cancel) {
        Ok((o, file)) if o.status == Status::Exited && o.exit_code == Some(0) => {
            match Mapping::of(&file) {
                Ok(archive) if archive.len() as u64 <= max => archive,
                _ => return cache.refuse(),
            }
        }
        _ => return cache.refuse(),
    };
    match ustar::read(&archive) {
        Ok(artefacts) => cache.put(
            key,
            Compiled {
                step: compiled.clone(),
                artefacts,
                data: Data::Mapped(archive),
            },
        ),
        Err(_) => cache.refuse(),
    }
}
