//! Conformance: every installed compiler of the catalogue, run through the engine in
//! the real sandbox. Missing toolchains are listed; with
//! `CODEEXEC_REQUIRE_ALL_TOOLCHAINS=1` (set by CI after installing everything) a
//! missing toolchain fails the run.

use std::sync::Mutex;

use codeexec_catalog::{Catalog, Compiler, Definitions, DetectOptions};
use codeexec_engine::*;
use codeexec_sandbox::{Sandbox, SandboxConfig};

fn catalog() -> Catalog {
    let defs = Definitions::load_dir(&codeexec_catalog::source_catalog_dir()).unwrap();
    Catalog::detect(&defs, &DetectOptions::default())
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let start = text.len().saturating_sub(600);
    text[text.floor_char_boundary(start)..].to_string()
}

/// Runs `check` for every installed compiler on two threads; returns the failures.
fn for_each_compiler(
    catalog: &Catalog,
    check: impl Fn(&Sandbox, &Compiler) -> Result<(), String> + Sync,
) -> Vec<String> {
    let sandbox = Sandbox::new(sandbox_config_for(catalog, SandboxConfig::default())).unwrap();
    let queue = Mutex::new(catalog.installed().iter().collect::<Vec<_>>());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some(compiler) = queue.lock().unwrap().pop() else {
                    return;
                };
                if let Err(e) = check(&sandbox, compiler) {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{}: {e}", compiler.name));
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    failures
}

fn describe(r: &JobResult) -> String {
    let compile = r
        .compile
        .as_ref()
        .map(|c| tail(&c.merged))
        .unwrap_or_default();
    let (stdout, stderr) = r
        .run
        .as_ref()
        .map(|run| (tail(&run.stdout), tail(&run.stderr)))
        .unwrap_or_default();
    format!(
        "status {:?} {:?}\n  compile: {compile:?}\n  stdout: {stdout:?}\n  stderr: {stderr:?}",
        r.status, r.internal_error
    )
}

#[test]
fn every_template_prints_hello_world_in_the_sandbox() {
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
    let failures = for_each_compiler(&catalog, |sandbox, compiler| {
        let recipe = catalog
            .resolve(&compiler.name, None, &[], &[], &[])
            .map_err(|e| e.to_string())?;
        let job = Job::new(recipe, compiler.template.clone());
        let r = run_job(sandbox, &job, &mut |_| {});
        let out = r.run.as_ref().map(|run| run.stdout.as_slice());
        if r.status == JobStatus::Ok && out == Some(b"Hello, world!\n".as_slice()) {
            Ok(())
        } else {
            Err(describe(&r))
        }
    });
    eprintln!("{} compilers checked", catalog.installed().len());
    assert!(
        failures.is_empty(),
        "{} of {} compilers failed:\n{}",
        failures.len(),
        catalog.installed().len(),
        failures.join("\n")
    );
}
