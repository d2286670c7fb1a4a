//! The TOML schema of `catalog/*.toml`, exactly as written on disk.
//!
//! One file describes one language and all of its compilers. Everything here is plain
//! data; validation lives in [`crate::load`], placeholder expansion in [`crate::expand`].
//! Unknown keys are rejected everywhere so that a typo in a catalogue file is an error at
//! start-up instead of a silently ignored setting.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One `catalog/<id>.toml` file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageFile {
    /// Display name, Wandbox's where Wandbox has the language ("C++", "Bash script").
    pub language: String,
    /// Other names accepted in requests, lowercase (`py`, `cxx`, `golang` …).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// File name extensions without the dot, for `codeexec run hello.py`.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// The `id` of the compiler used when a request names only the language. When that
    /// compiler is not installed, the first installed compiler in file order is used.
    pub default_compiler: String,
    /// A program that prints exactly `Hello, world!` and a newline.
    pub template: String,
    /// Switches shared by every compiler of this file (unless a compiler sets
    /// `inherit_switches = false`).
    #[serde(default, rename = "switch")]
    pub switches: Vec<SwitchDef>,
    /// The compilers, interpreters or runtimes of this language.
    #[serde(rename = "compiler")]
    pub compilers: Vec<CompilerDef>,
    /// Programs the conformance suite runs with every compiler of this language.
    #[serde(default)]
    pub conformance: Option<ConformanceDef>,
}

/// One `[[compiler]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompilerDef {
    /// A stable, version-free key (`gcc-12`, `node-npm-22`): what `default_compiler`,
    /// the installer and the unavailable list refer to.
    pub id: String,
    /// The public name template in Wandbox's style; `{version}` is replaced by the
    /// version detected at start-up (`gcc-{version}` → `gcc-12.2.0`).
    pub name: String,
    pub display_name: String,
    pub display_compile_command: String,
    /// How to read the installed version.
    pub version: VersionRule,
    /// The name the main source file is saved under inside the box.
    pub source_file: String,
    /// Compile step(s): one argv, or a list of argvs run in order. Absent for
    /// interpreters.
    #[serde(default)]
    pub compile: Option<Steps>,
    /// The run argv.
    pub run: Vec<String>,
    /// Compiler-specific switches, added to the language's shared ones.
    #[serde(default, rename = "switch")]
    pub switches: Vec<SwitchDef>,
    /// Whether the language-level `[[switch]]` entries apply to this compiler.
    #[serde(default = "yes")]
    pub inherit_switches: bool,
    /// Raw compile options allowed; defaults to true when there is a compile step.
    #[serde(default)]
    pub compiler_option_raw: Option<bool>,
    /// Raw runtime options (program arguments) allowed; defaults to true.
    #[serde(default)]
    pub runtime_option_raw: Option<bool>,
    /// Limits where the service default does not suit this toolchain.
    #[serde(default)]
    pub limits: LimitOverrides,
    /// Environment added to both steps (values may use `{toolchain}`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Overrides the language's template for this compiler (e.g. an older Zig API).
    #[serde(default)]
    pub template: Option<String>,
    /// How the toolchain is installed.
    pub install: InstallSpec,
    /// Host files or directories outside the sandbox's default view that the
    /// toolchain reads (its configuration under /etc, a package database under
    /// /var/lib); bound read-only into every box. Checked against a deny list.
    #[serde(default)]
    pub host_paths: Vec<String>,
    /// Overrides the language's conformance programs, field by field (for a compiler
    /// that needs other code, e.g. an older language version).
    #[serde(default)]
    pub conformance: Option<ConformanceDef>,
}

fn yes() -> bool {
    true
}

/// Compile steps: `compile = ["cc", "x.c"]` or `compile = [["nasm", …], ["ld", …]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Steps {
    One(Vec<String>),
    Many(Vec<Vec<String>>),
}

impl Steps {
    /// The steps as a list of argvs.
    pub fn to_vec(&self) -> Vec<Vec<String>> {
        match self {
            Steps::One(argv) => vec![argv.clone()],
            Steps::Many(steps) => steps.clone(),
        }
    }
}

/// How to read a toolchain's version from the output of a command.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionRule {
    /// argv of the version command (absolute path, or under `{toolchain}`).
    pub command: Vec<String>,
    /// Regex applied to stdout followed by stderr. The version is the named group
    /// `version`, else group 1, else the whole match. Default: the first dotted number.
    #[serde(default)]
    pub regex: Option<String>,
    /// Builds the version from several groups: `"{1}-v{2}"` (for `pypy-3.9-v7.3.11`).
    #[serde(default)]
    pub format: Option<String>,
    /// Time allowed for the command; the default is 5 s (JVM tools want more).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// Where a switch's flags go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The compile command (the first compile step, or the step holding `{flags}`).
    Compile,
    /// The run command.
    Run,
}

/// A switch in Wandbox's model.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SwitchDef {
    Single(SingleSwitch),
    Select(SelectSwitch),
}

impl SwitchDef {
    pub fn name(&self) -> &str {
        match self {
            SwitchDef::Single(s) => &s.name,
            SwitchDef::Select(s) => &s.name,
        }
    }
}

/// An on/off switch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SingleSwitch {
    pub name: String,
    pub display_name: String,
    pub flags: Vec<String>,
    /// On when the request gives no options at all.
    #[serde(default)]
    pub default: bool,
    /// Default: `compile` when the compiler has a compile step, else `run`.
    #[serde(default)]
    pub target: Option<Target>,
}

/// A group of mutually exclusive options (a request may name at most one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectSwitch {
    /// The group's name (Wandbox shows it; requests name the options, not the group).
    pub name: String,
    /// The option applied when the request names none of this group.
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub target: Option<Target>,
    pub options: Vec<SelectOption>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectOption {
    pub name: String,
    pub display_name: String,
    pub flags: Vec<String>,
}

/// Per-compiler overrides of the service's default limits. Absent fields keep the
/// default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    pub memory_mb: Option<u64>,
    pub processes: Option<u32>,
    pub open_files: Option<u32>,
    pub file_size_mb: Option<u64>,
    pub compile_time_ms: Option<u64>,
    pub run_time_ms: Option<u64>,
    pub cpu_time_ms: Option<u64>,
    pub output_kb: Option<u64>,
}

/// How a toolchain is installed. `apt` packages go to the system; at most one of `pip`,
/// `npm` and `deb` installs into the compiler's own directory under the toolchains root
/// (`{toolchain}` in argvs), which the sandbox binds read-only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallSpec {
    /// Debian packages, installed with `apt-get install --no-install-recommends`.
    #[serde(default)]
    pub apt: Vec<String>,
    /// A PyPI package installed with `python3 -m pip install --target {toolchain}`.
    #[serde(default)]
    pub pip: Option<PackageSpec>,
    /// An npm package installed with `npm install --prefix {toolchain}`.
    #[serde(default)]
    pub npm: Option<PackageSpec>,
    /// Debian packages that conflict with installed ones (`rustc` vs `rustc-web`):
    /// downloaded with `apt-get download` and unpacked into `{toolchain}`.
    #[serde(default)]
    pub deb: Vec<String>,
    /// The directory under the toolchains root; default: the compiler's `id`.
    #[serde(default)]
    pub dir: Option<String>,
}

impl InstallSpec {
    /// Whether the toolchain lives in its own directory under the toolchains root.
    pub fn has_own_dir(&self) -> bool {
        self.pip.is_some() || self.npm.is_some() || !self.deb.is_empty()
    }
}

/// A registry package pinned to one version.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSpec {
    pub package: String,
    pub version: String,
}

/// A check of the conformance suite that takes a program of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConformanceCheck {
    /// Reads all of stdin and writes it back to stdout unchanged.
    EchoStdin,
    /// Prints each command-line argument on its own line (only the user's arguments:
    /// the program skips any the runtime puts first, such as its own name).
    PrintArgs,
    /// Prints nothing and exits with code 3.
    ExitCode,
    /// Fails to compile (only for compilers with a compile step).
    CompileError,
}

impl ConformanceCheck {
    pub const ALL: [ConformanceCheck; 4] = [
        ConformanceCheck::EchoStdin,
        ConformanceCheck::PrintArgs,
        ConformanceCheck::ExitCode,
        ConformanceCheck::CompileError,
    ];

    /// The key in `[conformance]` and the name used in `skip`.
    pub fn name(self) -> &'static str {
        match self {
            ConformanceCheck::EchoStdin => "echo_stdin",
            ConformanceCheck::PrintArgs => "print_args",
            ConformanceCheck::ExitCode => "exit_code",
            ConformanceCheck::CompileError => "compile_error",
        }
    }

    pub fn from_name(name: &str) -> Option<ConformanceCheck> {
        ConformanceCheck::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// `[conformance]` of a language, or `[compiler.conformance]` of one compiler.
///
/// Each program is a complete source file. A check a language truly cannot do (no
/// access to argv, no exit status) is named in `skip`, with `skip_reason` saying why.
/// A compiler's table overrides the language's field by field; its `skip` (with its
/// reason) replaces the language's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConformanceDef {
    #[serde(default)]
    pub echo_stdin: Option<String>,
    #[serde(default)]
    pub print_args: Option<String>,
    #[serde(default)]
    pub exit_code: Option<String>,
    #[serde(default)]
    pub compile_error: Option<String>,
    /// Checks this language (or compiler) cannot do, by name (`print_args` …).
    #[serde(default)]
    pub skip: Option<Vec<String>>,
    /// Why the checks in `skip` cannot be done; required with `skip`.
    #[serde(default)]
    pub skip_reason: Option<String>,
}

impl ConformanceDef {
    /// The program of `check`, if given.
    pub fn program(&self, check: ConformanceCheck) -> Option<&str> {
        match check {
            ConformanceCheck::EchoStdin => self.echo_stdin.as_deref(),
            ConformanceCheck::PrintArgs => self.print_args.as_deref(),
            ConformanceCheck::ExitCode => self.exit_code.as_deref(),
            ConformanceCheck::CompileError => self.compile_error.as_deref(),
        }
    }

    /// Whether `check` is named in `skip`.
    pub fn skips(&self, check: ConformanceCheck) -> bool {
        self.skip
            .as_ref()
            .is_some_and(|s| s.iter().any(|n| n == check.name()))
    }

    /// A language's table with a compiler's table laid over it: each program the
    /// compiler gives wins, and the compiler's `skip` (if it has one) replaces the
    /// language's, reason included.
    pub fn merged(language: Option<&ConformanceDef>, compiler: Option<&ConformanceDef>) -> Self {
        let base = language.cloned().unwrap_or_default();
        let Some(over) = compiler else { return base };
        let (skip, skip_reason) = if over.skip.is_some() {
            (over.skip.clone(), over.skip_reason.clone())
        } else {
            (base.skip, base.skip_reason)
        };
        ConformanceDef {
            echo_stdin: over.echo_stdin.clone().or(base.echo_stdin),
            print_args: over.print_args.clone().or(base.print_args),
            exit_code: over.exit_code.clone().or(base.exit_code),
            compile_error: over.compile_error.clone().or(base.compile_error),
            skip,
            skip_reason,
        }
    }
}
