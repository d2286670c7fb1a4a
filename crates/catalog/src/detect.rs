//! Start-up detection: which toolchains are installed, and which version each one is.
//!
//! Each compiler's version command runs with an argv (no shell), a clean environment and
//! a timeout; the commands run in parallel on a few threads because there are more than
//! a hundred of them and most spend their time starting up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::exec;
use crate::expand::{self, Vars};
use crate::load::{Definitions, LanguageDef};
use crate::model::CompilerDef;
use crate::version::{is_name_safe, VersionExtractor};

/// The default toolchains root, bound read-only inside the sandbox.
pub const DEFAULT_TOOLCHAINS_ROOT: &str = "/opt/codeexec/toolchains";

/// Output kept from a version command; the rest is read and dropped.
const MAX_OUTPUT: usize = 64 * 1024;

/// Settings for detection.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    /// Where pip/npm/deb toolchains live (`{toolchain}` = root/dir).
    pub toolchains_root: PathBuf,
    /// Timeout of a version command that does not set its own.
    pub default_timeout: Duration,
    /// Version commands run at once.
    pub parallelism: usize,
}

impl Default for DetectOptions {
    /// Root from `CODEEXEC_TOOLCHAINS` if set, else [`DEFAULT_TOOLCHAINS_ROOT`]; 5 s;
    /// four commands per core (they mostly wait on start-up I/O).
    fn default() -> Self {
        let root = std::env::var_os("CODEEXEC_TOOLCHAINS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_TOOLCHAINS_ROOT));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        DetectOptions {
            toolchains_root: root,
            default_timeout: Duration::from_secs(5),
            parallelism: (cores * 4).clamp(4, 16),
        }
    }
}

/// The directory of a compiler's own toolchain, if it has one.
pub fn toolchain_dir(root: &Path, c: &CompilerDef) -> Option<PathBuf> {
    c.install
        .has_own_dir()
        .then(|| root.join(c.install.dir.as_deref().unwrap_or(&c.id)))
}

/// The substitution values for a compiler.
pub(crate) fn vars<'a>(c: &'a CompilerDef, dir: &'a str) -> Vars<'a> {
    Vars {
        source: &c.source_file,
        toolchain: dir,
    }
}

/// How to get a missing toolchain, for messages.
pub fn install_hint(c: &CompilerDef) -> String {
    let i = &c.install;
    let what = if let Some(p) = &i.pip {
        format!("PyPI package {}=={}", p.package, p.version)
    } else if let Some(p) = &i.npm {
        format!("npm package {}@{}", p.package, p.version)
    } else if !i.deb.is_empty() {
        format!(
            "Debian package(s) {} unpacked into its own directory",
            i.deb.join(" ")
        )
    } else {
        format!("Debian package(s) {}", i.apt.join(" "))
    };
    format!("install {what} (`codeexec toolchains install {}`)", c.id)
}

/// What probing one compiler found.
pub type Probe = Result<String, String>;

/// Probes every compiler of `defs` in parallel; results are in catalogue order.
pub fn probe_all(defs: &Definitions, opts: &DetectOptions) -> Vec<Probe> {
    let jobs: Vec<(&LanguageDef, &CompilerDef)> = defs.compilers().collect();
    let results: Mutex<Vec<Option<Probe>>> = Mutex::new(vec![None; jobs.len()]);
    let next = AtomicUsize::new(0);
    let home = scratch_dir();
    let workers = opts.parallelism.max(1).min(jobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((_, c)) = jobs.get(i) else { break };
                let probe = probe(c, opts, &home);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(probe);
            });
        }
    });
    let _ = std::fs::remove_dir_all(&home);
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not probed".into())))
        .collect()
}

/// A private empty directory used as HOME and working directory of version commands,
/// so that tools which write caches or config there touch nothing of ours.
fn scratch_dir() -> PathBuf {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "codeexec-detect-{}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        nanos
    ));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Probes one compiler: its programs exist, its version command answers, a version is
/// found in the answer and can stand in a name.
pub fn probe(c: &CompilerDef, opts: &DetectOptions, home: &Path) -> Probe {
    let dir = toolchain_dir(&opts.toolchains_root, c);
    let dir_str = dir
        .as_ref()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let v = vars(c, &dir_str);

    // The programs the recipe will start must exist (relative ones are built by the
    // compile step), and so must every file of the toolchain's own directory that an
    // argv names (`node {toolchain}/…/tsc`).
    let mut programs: Vec<String> = Vec::new();
    programs.push(expand::substitute(&c.version.command[0], v));
    let steps = c.compile.iter().flat_map(|s| s.to_vec());
    for step in steps.clone() {
        programs.push(expand::substitute(&step[0], v));
    }
    programs.push(expand::substitute(&c.run[0], v));
    let all_args = steps
        .flatten()
        .chain(c.run.iter().cloned())
        .chain(c.version.command.iter().cloned());
    for arg in all_args {
        if arg.starts_with("{toolchain}/") {
            programs.push(expand::substitute(&arg, v));
        }
    }
    for p in &programs {
        if p.starts_with('/') && !Path::new(p).exists() {
            return Err(format!("`{p}` not found: {}", install_hint(c)));
        }
    }

    let argv: Vec<String> = c
        .version
        .command
        .iter()
        .map(|a| expand::substitute(a, v))
        .collect();
    let env: BTreeMap<String, String> = c
        .env
        .iter()
        .map(|(k, val)| (k.clone(), expand::substitute(val, v)))
        .collect();
    let timeout = c
        .version
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(opts.default_timeout);
    let shown = argv.join(" ");
    let out =
        run_with_timeout(&argv, &env, home, timeout).map_err(|e| format!("`{shown}`: {e}"))?;
    let extractor = VersionExtractor::new(c.version.regex.as_deref(), c.version.format.as_deref())
        .map_err(|e| format!("bad version regex: {e}"))?;
    let version = extractor.extract(&out).ok_or_else(|| {
        let first = out
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("(no output)");
        format!(
            "`{shown}`: no version found in its output: {}",
            first.trim()
        )
    })?;
    if !is_name_safe(&version) {
        return Err(format!(
            "`{shown}`: version `{version}` cannot stand in a compiler name"
        ));
    }
    Ok(version)
}

/// Runs a version command (see [`exec::run`]) and returns stdout followed by stderr.
/// A command that fails is an error even when it printed something: an interpreter
/// that cannot find its script prints a path, and a path holds numbers that look like
/// a version.
pub fn run_with_timeout(
    argv: &[String],
    env: &BTreeMap<String, String>,
    home: &Path,
    timeout: Duration,
) -> Result<String, String> {
    let out = exec::run(argv, env, home, home, timeout, MAX_OUTPUT)?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.stderr.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    if out.timed_out {
        return Err(format!("timed out after {} ms", timeout.as_millis()));
    }
    if !out.status.success() {
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("(no output)");
        return Err(format!("exited with {}: {}", out.status, first.trim()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn captures_stdout_then_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let out = run_with_timeout(
            &argv(&["/bin/sh", "-c", "echo out; echo err >&2"]),
            &BTreeMap::new(),
            dir.path(),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out, "out\nerr\n");
    }

    #[test]
    fn environment_is_clean_plus_extras() {
        let dir = tempfile::tempdir().unwrap();
        let mut env = BTreeMap::new();
        env.insert("EXTRA".to_string(), "x1".to_string());
        let out = run_with_timeout(
            &argv(&["/usr/bin/env"]),
            &env,
            dir.path(),
            Duration::from_secs(5),
        )
        .unwrap();
        let mut keys: Vec<&str> = out.lines().filter_map(|l| l.split('=').next()).collect();
        keys.sort();
        assert_eq!(keys, vec!["EXTRA", "HOME", "LANG", "PATH", "TMPDIR"]);
    }

    #[test]
    fn times_out_and_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        // The shell's child keeps stdout open; only a group kill ends it.
        let err = run_with_timeout(
            &argv(&["/bin/sh", "-c", "sleep 30 & sleep 30"]),
            &BTreeMap::new(),
            dir.path(),
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(err.contains("timed out after 300 ms"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn failure_is_an_error_even_with_output() {
        let dir = tempfile::tempdir().unwrap();
        let env = BTreeMap::new();
        let t = Duration::from_secs(5);
        let err = run_with_timeout(&argv(&["/bin/false"]), &env, dir.path(), t).unwrap_err();
        assert!(err.contains("(no output)"), "{err}");
        let err = run_with_timeout(
            &argv(&[
                "/bin/sh",
                "-c",
                "echo cannot open /opt/x-5.9/tsc >&2; exit 1",
            ]),
            &env,
            dir.path(),
            t,
        )
        .unwrap_err();
        assert!(err.contains("cannot open /opt/x-5.9/tsc"), "{err}");
    }

    #[test]
    fn missing_program_cannot_start() {
        let dir = tempfile::tempdir().unwrap();
        let err = run_with_timeout(
            &argv(&["/nonexistent/tool", "--version"]),
            &BTreeMap::new(),
            dir.path(),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(err.contains("cannot start"), "{err}");
    }
}
