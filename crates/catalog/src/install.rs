//! The toolchain installer behind `codeexec toolchains list|install`.
//!
//! Idempotent: Debian packages already installed are skipped, and a toolchain directory
//! under the root is reinstalled only when its marker file does not match the
//! catalogue's package and version. A directory is built under a temporary name and
//! renamed into place, so an interrupted install leaves no half-populated toolchain.
//!
//! Debian packages go to the system with `apt-get install -y --no-install-recommends`;
//! PyPI packages with Debian's `/usr/bin/python3 -m pip install --target DIR` (never the
//! pyenv `python3` a developer may have on PATH: that lives under /root, which the
//! sandbox cannot see); npm packages with `npm install --prefix DIR`; conflicting Debian
//! packages with `apt-get download` and `dpkg-deb -x DIR`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::catalog::Catalog;
use crate::detect::{self, DetectOptions};
use crate::load::Definitions;
use crate::model::{CompilerDef, PackageSpec};
use crate::suggest::close_matches;

/// The marker written into every toolchain directory: what was installed there.
pub const MARKER: &str = ".codeexec-install";

/// Debian's interpreter, used for pip installs.
pub const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// Which compilers to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    /// Compiler ids, or languages (id, display name or alias) meaning all their compilers.
    Names(Vec<String>),
}

/// Installer settings.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub toolchains_root: PathBuf,
    /// Run `apt-get update` before installing Debian packages.
    pub apt_update: bool,
    /// Print the commands without running them.
    pub dry_run: bool,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions {
            toolchains_root: DetectOptions::default().toolchains_root,
            apt_update: false,
            dry_run: false,
        }
    }
}

/// Why installing failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("unknown compiler or language `{name}`{}", if .suggestions.is_empty() { String::new() } else { format!("; did you mean {}?", .suggestions.join(", ")) })]
    UnknownName {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("`{command}` failed: {status}")]
    CommandFailed { command: String, status: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A toolchain that lives in its own directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirJob {
    pub id: String,
    pub dir: PathBuf,
    pub kind: DirKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DirKind {
    Pip { package: String, version: String },
    Npm { package: String, version: String },
    Deb { packages: Vec<String> },
}

impl DirKind {
    /// The marker text: changes whenever what should be installed changes.
    fn marker(&self) -> String {
        match self {
            DirKind::Pip { package, version } => format!("pip {package}=={version}\n"),
            DirKind::Npm { package, version } => format!("npm {package}@{version}\n"),
            DirKind::Deb { packages } => format!("deb {}\n", packages.join(" ")),
        }
    }
}

/// What an install will do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Every Debian package the selection needs (including pip/npm prerequisites).
    pub apt: Vec<String>,
    /// Toolchains with their own directory.
    pub dirs: Vec<DirJob>,
}

/// The compilers a selection names, in catalogue order.
pub fn select<'a>(
    defs: &'a Definitions,
    selection: &Selection,
) -> Result<Vec<&'a CompilerDef>, InstallError> {
    let all: Vec<_> = defs.compilers().collect();
    let names = match selection {
        Selection::All => return Ok(all.into_iter().map(|(_, c)| c).collect()),
        Selection::Names(names) => names,
    };
    let mut wanted: BTreeSet<&str> = BTreeSet::new();
    for name in names {
        let key = name.trim().to_lowercase();
        if let Some((_, c)) = all.iter().find(|(_, c)| c.id == key) {
            wanted.insert(&c.id);
            continue;
        }
        // Same precedence as request resolution: exact display name, then id or
        // alias, then display name ignoring case.
        let langs = &defs.languages;
        let lang = langs
            .iter()
            .find(|l| l.spec.language == name.trim())
            .or_else(|| {
                langs
                    .iter()
                    .find(|l| l.id == key || l.spec.aliases.contains(&key))
            })
            .or_else(|| langs.iter().find(|l| l.spec.language.to_lowercase() == key));
        match lang {
            Some(l) => wanted.extend(l.spec.compilers.iter().map(|c| c.id.as_str())),
            None => {
                let mut candidates: Vec<&str> = all.iter().map(|(_, c)| c.id.as_str()).collect();
                candidates.extend(langs.iter().map(|l| l.id.as_str()));
                return Err(InstallError::UnknownName {
                    name: name.clone(),
                    suggestions: close_matches(name, candidates, 5),
                });
            }
        }
    }
    Ok(all
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c| wanted.contains(c.id.as_str()))
        .collect())
}

/// What installing `compilers` needs, before looking at what is already there.
pub fn plan(compilers: &[&CompilerDef], root: &Path) -> Plan {
    let mut apt: BTreeSet<String> = BTreeSet::new();
    let mut dirs = Vec::new();
    for c in compilers {
        apt.extend(c.install.apt.iter().cloned());
        let Some(dir) = detect::toolchain_dir(root, c) else {
            continue;
        };
        let spec = |p: &PackageSpec| (p.package.clone(), p.version.clone());
        let kind = if let Some((package, version)) = c.install.pip.as_ref().map(spec) {
            apt.insert("python3-pip".into());
            DirKind::Pip { package, version }
        } else if let Some((package, version)) = c.install.npm.as_ref().map(spec) {
            // nodesource's nodejs ships npm itself; Debian's comes as package npm.
            if !Path::new("/usr/bin/npm").exists() {
                apt.insert("npm".into());
            }
            DirKind::Npm { package, version }
        } else {
            DirKind::Deb {
                packages: c.install.deb.clone(),
            }
        };
        if !dirs.iter().any(|d: &DirJob| d.dir == dir) {
            dirs.push(DirJob {
                id: c.id.clone(),
                dir,
                kind,
            });
        }
    }
    Plan {
        apt: apt.into_iter().collect(),
        dirs,
    }
}

/// Whether the directory job is already done (its marker matches).
pub fn dir_is_current(job: &DirJob) -> bool {
    std::fs::read_to_string(job.dir.join(MARKER)).is_ok_and(|m| m == job.kind.marker())
}

/// Which of `packages` dpkg reports as installed.
pub fn installed_debs(packages: &[String]) -> BTreeSet<String> {
    if packages.is_empty() {
        return BTreeSet::new();
    }
    let out = Command::new("/usr/bin/dpkg-query")
        .arg("-W")
        .arg("-f=${Package} ${db:Status-Abbrev}\n")
        .args(packages)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let Ok(out) = out else { return BTreeSet::new() };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next()?;
            // "ii" = wanted install, installed; the name may carry an architecture.
            let status = parts.next()?;
            (status == "ii").then(|| name.split(':').next().unwrap_or(name).to_owned())
        })
        .collect()
}

/// Carries out `plan`: Debian packages first (pip and npm need them), then each
/// toolchain directory that is not current. `log` receives one line per action.
pub fn execute(
    plan: &Plan,
    opts: &InstallOptions,
    log: &mut dyn FnMut(&str),
) -> Result<(), InstallError> {
    let have = installed_debs(&plan.apt);
    let missing: Vec<&String> = plan.apt.iter().filter(|p| !have.contains(*p)).collect();
    if missing.is_empty() {
        log(&format!(
            "apt: all {} package(s) already installed",
            plan.apt.len()
        ));
    } else {
        if opts.apt_update {
            run(&["/usr/bin/apt-get", "update"], None, opts, log)?;
        }
        let mut argv = vec![
            "/usr/bin/apt-get",
            "install",
            "-y",
            "--no-install-recommends",
        ];
        argv.extend(missing.iter().map(|s| s.as_str()));
        run(&argv, None, opts, log)?;
    }
    for job in &plan.dirs {
        if dir_is_current(job) {
            log(&format!(
                "{}: already installed in {}",
                job.id,
                job.dir.display()
            ));
            continue;
        }
        install_dir(job, opts, log)?;
    }
    Ok(())
}

fn install_dir(
    job: &DirJob,
    opts: &InstallOptions,
    log: &mut dyn FnMut(&str),
) -> Result<(), InstallError> {
    let parent = job.dir.parent().unwrap_or(Path::new("/"));
    let name = job
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.partial"));
    let tmp_s = tmp.to_string_lossy().into_owned();
    if !opts.dry_run {
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io_err("cannot remove", &tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io_err("cannot create", &tmp))?;
    }
    match &job.kind {
        DirKind::Pip { package, version } => {
            let spec = format!("{package}=={version}");
            run(
                &[
                    DEBIAN_PYTHON,
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "--no-cache-dir",
                    "--target",
                    &tmp_s,
                    &spec,
                ],
                None,
                opts,
                log,
            )?;
        }
        DirKind::Npm { package, version } => {
            let spec = format!("{package}@{version}");
            run(
                &[
                    "/usr/bin/npm",
                    "install",
                    "--prefix",
                    &tmp_s,
                    "--no-audit",
                    "--no-fund",
                    "--no-update-notifier",
                    &spec,
                ],
                None,
                opts,
                log,
            )?;
        }
        DirKind::Deb { packages } => {
            let debs = tmp.join(".debs");
            if !opts.dry_run {
                std::fs::create_dir_all(&debs).map_err(io_err("cannot create", &debs))?;
            }
            let mut argv = vec!["/usr/bin/apt-get", "download"];
            argv.extend(packages.iter().map(String::as_str));
            run(&argv, Some(&debs), opts, log)?;
            let files = if opts.dry_run {
                Vec::new()
            } else {
                let mut files: Vec<PathBuf> = std::fs::read_dir(&debs)
                    .map_err(io_err("cannot read", &debs))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "deb"))
                    .collect();
                files.sort();
                files
            };
            for f in files {
                let f = f.to_string_lossy().into_owned();
                run(&["/usr/bin/dpkg-deb", "-x", &f, &tmp_s], None, opts, log)?;
            }
            if !opts.dry_run {
                let _ = std::fs::remove_dir_all(&debs);
            }
        }
    }
    if opts.dry_run {
        return Ok(());
    }
    std::fs::write(tmp.join(MARKER), job.kind.marker()).map_err(io_err("cannot write", &tmp))?;
    if job.dir.exists() {
        std::fs::remove_dir_all(&job.dir).map_err(io_err("cannot remove", &job.dir))?;
    }
    std::fs::rename(&tmp, &job.dir).map_err(io_err("cannot rename into", &job.dir))?;
    log(&format!("{}: installed in {}", job.id, job.dir.display()));
    Ok(())
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InstallError {
    let path = path.to_owned();
    move |source| InstallError::Io { what, path, source }
}

fn run(
    argv: &[&str],
    cwd: Option<&Path>,
    opts: &InstallOptions,
    log: &mut dyn FnMut(&str),
) -> Result<(), InstallError> {
    let shown = argv.join(" ");
    log(&format!("+ {shown}"));
    if opts.dry_run {
        return Ok(());
    }
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let status = cmd.status().map_err(|e| InstallError::CommandFailed {
        command: shown.clone(),
        status: format!("cannot start: {e}"),
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(InstallError::CommandFailed {
            command: shown,
            status: status.to_string(),
        })
    }
}

/// One line of `codeexec toolchains list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolchainStatus {
    pub id: String,
    pub language: String,
    /// The public name when installed, else the name template.
    pub name: String,
    pub installed: bool,
    /// The version when installed, else why the compiler is not offered.
    pub detail: String,
}

/// What is installed and what is missing, in catalogue order.
pub fn status(defs: &Definitions, catalog: &Catalog) -> Vec<ToolchainStatus> {
    defs.compilers()
        .map(|(lang, c)| {
            if let Some(found) = catalog.installed().iter().find(|x| x.id == c.id) {
                ToolchainStatus {
                    id: c.id.clone(),
                    language: lang.spec.language.clone(),
                    name: found.name.clone(),
                    installed: true,
                    detail: found.version.clone(),
                }
            } else {
                let reason = catalog
                    .unavailable()
                    .iter()
                    .find(|u| u.id == c.id)
                    .map(|u| u.reason.clone())
                    .unwrap_or_default();
                ToolchainStatus {
                    id: c.id.clone(),
                    language: lang.spec.language.clone(),
                    name: c.name.clone(),
                    installed: false,
                    detail: reason,
                }
            }
        })
        .collect()
}
