//! Conformance: every installed compiler of the catalogue, run through the engine in
//! the real sandbox. For each compiler: its template prints `Hello, world!`; its
//! conformance programs (`[conformance]` in the catalogue) echo stdin, print their
//! arguments (given as job arguments and, where the compiler allows them, as raw
//! runtime options), exit with code 3 as a `runtime_error`, and fail to compile as a
//! `compile_error` with the compiler's message (compiled languages); and every switch
//! and select option resolves and still runs the template. Checks a language cannot
//! do are skipped by the catalogue, each with its reason, and listed.
//!
//! All failures are reported together. Missing toolchains are listed; with
//! `CODEEXEC_REQUIRE_ALL_TOOLCHAINS=1` (set by CI after installing everything) a
//! missing toolchain fails the run. `CODEEXEC_CONFORMANCE_ONLY=name,…` limits the run
//! to the compilers with those names, ids or language ids (for working on a few).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use codeexec_catalog::model::{ConformanceCheck, SwitchDef};
use codeexec_catalog::{Catalog, Compiler, Definitions, DetectOptions};
use codeexec_engine::*;
use codeexec_sandbox::{Sandbox, SandboxConfig};

const HELLO: &[u8] = b"Hello, world!\n";
const STDIN: &[u8] = b"line one\nline two\n";
const ARGS: [&str; 2] = ["alpha", "two words"];
const ARGS_OUT: &[u8] = b"alpha\ntwo words\n";
const EXIT_CODE: i32 = 3;

fn catalog() -> Catalog {
    let defs = Definitions::load_dir(&codeexec_catalog::source_catalog_dir()).unwrap();
    Catalog::detect(&defs, &DetectOptions::default())
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let start = text.len().saturating_sub(600);
    text[text.floor_char_boundary(start)..].to_string()
}

/// Runs `check` for every installed compiler (or those `only` names) on two threads;
/// returns each compiler with what `check` returned, in catalogue order.
fn for_each_compiler<'c, T: Send>(
    catalog: &'c Catalog,
    only: Option<&[String]>,
    check: impl Fn(&Sandbox, &Compiler) -> T + Sync,
) -> Vec<(&'c Compiler, T)> {
    let sandbox = Sandbox::new(sandbox_config_for(catalog, SandboxConfig::default())).unwrap();
    let selected = |c: &Compiler| {
        only.is_none_or(|names| {
            names
                .iter()
                .any(|n| *n == c.name || *n == c.id || *n == c.language_id)
        })
    };
    // Costly compilers first so that the two threads finish together.
    let mut queue: Vec<(usize, &Compiler)> = catalog
        .installed()
        .iter()
        .enumerate()
        .filter(|(_, c)| selected(c))
        .collect();
    queue.sort_by_key(|(_, c)| cost(c));
    let queue = Mutex::new(queue);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some((index, compiler)) = queue.lock().unwrap().pop() else {
                    return;
                };
                let outcome = check(&sandbox, compiler);
                results.lock().unwrap().push((index, compiler, outcome));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(index, _, _)| *index);
    results.into_iter().map(|(_, c, r)| (c, r)).collect()
}

/// A rough cost of a compiler's checks, to schedule the slowest first.
fn cost(c: &Compiler) -> u64 {
    let runs = 6 + option_names(c).len() as u64;
    let slow = c.limits.compile_time_ms.unwrap_or(0) / 30_000 + 1;
    if c.compile.is_empty() {
        runs
    } else {
        runs * 2 * slow
    }
}

fn describe(r: &JobResult) -> String {
    let compile = r
        .compile
        .as_ref()
        .map(|c| tail(&c.merged))
        .unwrap_or_default();
    let (stdout, stderr, code) = r
        .run
        .as_ref()
        .map(|run| (tail(&run.stdout), tail(&run.stderr), run.exit_code))
        .unwrap_or_default();
    format!(
        "status {} (exit code {code:?}, limit {:?}){}\n    compile: {compile:?}\n    stdout: {stdout:?}\n    stderr: {stderr:?}",
        r.status.as_str(),
        r.run
            .as_ref()
            .or(r.compile.as_ref())
            .and_then(|step| step.limit),
        r.internal_error
            .as_ref()
            .map(|e| format!(", internal error: {e}"))
            .unwrap_or_default(),
    )
}

/// Every switch name and select option name of a compiler.
fn option_names(c: &Compiler) -> Vec<String> {
    c.switches
        .iter()
        .flat_map(|sw| match &sw.def {
            SwitchDef::Single(s) => vec![s.name.clone()],
            SwitchDef::Select(s) => s.options.iter().map(|o| o.name.clone()).collect(),
        })
        .collect()
}

/// What the checks of one compiler found.
#[derive(Default)]
struct Report {
    checks: usize,
    failures: Vec<String>,
    /// (check, reason)
    skipped: Vec<(String, String)>,
    /// How long each check's job took.
    timings: Vec<(String, Duration)>,
    elapsed: Duration,
}

impl Report {
    /// Runs one check: `job`, then `verdict` on its result (an error says what was
    /// expected).
    fn check(
        &mut self,
        name: &str,
        job: impl FnOnce() -> Result<JobResult, String>,
        verdict: impl FnOnce(&JobResult) -> Result<(), String>,
    ) {
        self.checks += 1;
        let started = Instant::now();
        let result = job();
        self.timings.push((name.to_owned(), started.elapsed()));
        let failure = match result {
            Err(e) => Some(e),
            Ok(r) => verdict(&r)
                .err()
                .map(|expected| format!("expected {expected}; got {}", describe(&r))),
        };
        if let Some(message) = failure {
            self.failures.push(format!("[{name}] {message}"));
        }
    }

    fn missing(&mut self, name: &str) {
        self.failures
            .push(format!("[{name}] no program in the catalogue"));
    }
}

/// Runs jobs for one compiler.
struct Runner<'a> {
    catalog: &'a Catalog,
    sandbox: &'a Sandbox,
    compiler: &'a Compiler,
}

impl Runner<'_> {
    /// One job: `code` with `options` and `runtime_raw`, then `args` and `stdin`.
    fn run(
        &self,
        code: &str,
        options: &[String],
        runtime_raw: &[String],
        args: &[&str],
        stdin: &[u8],
    ) -> Result<JobResult, String> {
        let recipe = self
            .catalog
            .resolve(&self.compiler.name, None, options, &[], runtime_raw)
            .map_err(|e| format!("does not resolve: {e}"))?;
        let mut job = Job::new(recipe, code.to_owned());
        job.args = args.iter().map(|a| a.to_string()).collect();
        job.stdin = stdin.to_vec();
        Ok(run_job(self.sandbox, &job, &mut |_| {}))
    }
}

fn stdout_of(r: &JobResult) -> &[u8] {
    r.run.as_ref().map_or(&[][..], |run| run.stdout.as_slice())
}

/// Status ok and exactly `expected` on stdout.
fn prints(expected: &'static [u8]) -> impl FnOnce(&JobResult) -> Result<(), String> {
    move |r| {
        if r.status == JobStatus::Ok && stdout_of(r) == expected {
            Ok(())
        } else {
            Err(format!(
                "ok with stdout {:?}",
                String::from_utf8_lossy(expected)
            ))
        }
    }
}

fn check_compiler(catalog: &Catalog, sandbox: &Sandbox, c: &Compiler) -> Report {
    let started = Instant::now();
    let mut report = Report::default();
    let conf = &c.conformance;
    let none: &[String] = &[];
    let runner = Runner {
        catalog,
        sandbox,
        compiler: c,
    };
    let run = |code: &str, options: &[String], raw: &[String], args: &[&str], stdin: &[u8]| {
        runner.run(code, options, raw, args, stdin)
    };
    let skip = |report: &mut Report, check: &str| {
        let reason = conf.skip_reason.clone().unwrap_or_default();
        report.skipped.push((check.to_owned(), reason));
    };
    // The program of a check, unless the catalogue skips it (then `None`).
    let program = |report: &mut Report, check: ConformanceCheck| {
        if conf.skips(check) {
            skip(report, check.name());
            None
        } else {
            let code = conf.program(check);
            if code.is_none() {
                report.missing(check.name());
            }
            code
        }
    };

    // The template, with the default options.
    report.check(
        "template",
        || run(&c.template, none, none, &[], b""),
        prints(HELLO),
    );

    // Standard input comes through unchanged.
    if let Some(code) = program(&mut report, ConformanceCheck::EchoStdin) {
        report.check(
            "echo_stdin",
            || run(code, none, none, &[], STDIN),
            prints(STDIN),
        );
    }

    // Arguments come through, as job arguments and as raw runtime options.
    match program(&mut report, ConformanceCheck::PrintArgs) {
        Some(code) => {
            report.check(
                "print_args",
                || run(code, none, none, &ARGS, b""),
                prints(ARGS_OUT),
            );
            if c.runtime_option_raw {
                let raw: Vec<String> = ARGS.iter().map(|a| a.to_string()).collect();
                report.check(
                    "print_args (runtime raw)",
                    || run(code, none, &raw, &[], b""),
                    prints(ARGS_OUT),
                );
            }
        }
        None if c.runtime_option_raw && conf.skips(ConformanceCheck::PrintArgs) => {
            skip(&mut report, "print_args (runtime raw)");
        }
        None => {}
    }

    // A non-zero exit is a runtime error with its code.
    if let Some(code) = program(&mut report, ConformanceCheck::ExitCode) {
        report.check(
            "exit_code",
            || run(code, none, none, &[], b""),
            |r| {
                let exit = r.run.as_ref().and_then(|run| run.exit_code);
                if r.status == JobStatus::RuntimeError
                    && exit == Some(EXIT_CODE)
                    && stdout_of(r).is_empty()
                {
                    Ok(())
                } else {
                    Err(format!(
                        "runtime_error with exit code {EXIT_CODE} and no output"
                    ))
                }
            },
        );
    }

    // A compile error is reported as such, with the compiler's message.
    if !c.compile.is_empty() {
        if let Some(code) = program(&mut report, ConformanceCheck::CompileError) {
            report.check(
                "compile_error",
                || run(code, none, none, &[], b""),
                |r| {
                    let message = r.compile.as_ref().map(|s| s.merged.trim_ascii());
                    if r.status == JobStatus::CompileError
                        && r.run.is_none()
                        && message.is_some_and(|m| !m.is_empty())
                    {
                        Ok(())
                    } else {
                        Err("compile_error with the compiler's message".into())
                    }
                },
            );
        }
    }

    // Every switch and select option resolves and the template still works with it.
    // An option that leaves the recipe as the defaults have it (a default select
    // option, a default switch alone) was run by the template check already. Some
    // options reshape the output (sqlite3's output modes add headers or quotes), so the
    // greeting need only be in it.
    let defaults = catalog.resolve(&c.name, None, &[], &[], &[]).ok();
    for option in option_names(c) {
        let options = std::slice::from_ref(&option);
        let recipe = catalog.resolve(&c.name, None, options, &[], &[]);
        if recipe.is_ok() && recipe.ok() == defaults {
            report.checks += 1;
            continue;
        }
        report.check(
            &format!("option {option}"),
            || run(&c.template, options, none, &[], b""),
            |r| {
                let greeting = b"Hello, world!";
                if r.status == JobStatus::Ok
                    && stdout_of(r).windows(greeting.len()).any(|w| w == greeting)
                {
                    Ok(())
                } else {
                    Err("ok with Hello, world! in stdout".into())
                }
            },
        );
    }

    report.elapsed = started.elapsed();
    report
}

#[test]
fn every_compiler_conforms_in_the_sandbox() {
    let started = Instant::now();
    let catalog = catalog();
    let missing: Vec<String> = catalog
        .unavailable()
        .iter()
        .map(|u| format!("{} ({}): {}", u.id, u.language, u.reason))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "toolchains not installed ({}):\n  {}",
            missing.len(),
            missing.join("\n  ")
        );
        if std::env::var_os("CODEEXEC_REQUIRE_ALL_TOOLCHAINS").is_some_and(|v| v == "1") {
            panic!(
                "CODEEXEC_REQUIRE_ALL_TOOLCHAINS=1 and {} toolchains are missing",
                missing.len()
            );
        }
    }
    let only: Option<Vec<String>> = std::env::var("CODEEXEC_CONFORMANCE_ONLY")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());

    let reports = for_each_compiler(&catalog, only.as_deref(), |sandbox, compiler| {
        check_compiler(&catalog, sandbox, compiler)
    });

    let mut failures = Vec::new();
    let mut skips = Vec::new();
    let mut checks = 0;
    for (c, r) in &reports {
        checks += r.checks;
        failures.extend(r.failures.iter().map(|f| format!("{}: {f}", c.name)));
        skips.extend(
            r.skipped
                .iter()
                .map(|(check, reason)| format!("{}: {check}: {reason}", c.name)),
        );
    }
    let mut slowest: Vec<_> = reports.iter().map(|(c, r)| (r.elapsed, &c.name)).collect();
    slowest.sort_by(|a, b| b.cmp(a));
    eprintln!(
        "slowest compilers: {}",
        slowest
            .iter()
            .take(10)
            .map(|(t, n)| format!("{n} {:.1}s", t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut slowest: Vec<_> = reports
        .iter()
        .flat_map(|(c, r)| r.timings.iter().map(move |(check, t)| (*t, &c.name, check)))
        .collect();
    slowest.sort_by(|a, b| b.cmp(a));
    eprintln!(
        "slowest checks: {}",
        slowest
            .iter()
            .take(10)
            .map(|(t, n, check)| format!("{n} [{check}] {:.1}s", t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "conformance: {} compilers, {checks} checks, {} skipped (with reasons), {} failed, in {:.0}s",
        reports.len(),
        skips.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    if !skips.is_empty() {
        eprintln!("skipped:\n  {}", skips.join("\n  "));
    }
    assert!(
        failures.is_empty(),
        "{} checks failed, in {} of {} compilers:\n{}",
        failures.len(),
        reports
            .iter()
            .filter(|(_, r)| !r.failures.is_empty())
            .count(),
        reports.len(),
        failures.join("\n")
    );
}
