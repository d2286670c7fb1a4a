//! Reading and validating `catalog/*.toml`.
//!
//! Every problem found is reported, each naming its file and field, so that a broken
//! catalogue is fixed in one pass rather than one error per restart.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::expand::{self, FLAGS, RAW};
use crate::model::{
    CompilerDef, ConformanceCheck, ConformanceDef, LanguageFile, SwitchDef, Target,
};
use crate::version::{is_name_safe, VersionExtractor};

/// One problem in one catalogue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// The offending field as a path (`compiler[gcc-12].run`), or empty for a parse error.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.field,
                self.message
            )
        }
    }
}

/// Why the catalogue could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read catalogue directory {dir}: {source}")]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {file}: {source}")]
    ReadFile {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no *.toml files in catalogue directory {0}")]
    Empty(PathBuf),
    #[error("invalid catalogue ({} problem(s)):\n{}", .0.len(), ProblemList(.0))]
    Invalid(Vec<Problem>),
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// A parsed language file.
#[derive(Debug, Clone)]
pub struct LanguageDef {
    /// The file stem (`cpp` for `catalog/cpp.toml`): the language's stable id.
    pub id: String,
    pub file: PathBuf,
    pub spec: LanguageFile,
}

/// The whole catalogue as written, validated but not yet detected.
#[derive(Debug, Clone)]
pub struct Definitions {
    pub languages: Vec<LanguageDef>,
}

impl Definitions {
    /// Reads every `*.toml` in `dir` (sorted by name) and validates the lot.
    pub fn load_dir(dir: &Path) -> Result<Definitions, LoadError> {
        let entries = std::fs::read_dir(dir).map_err(|source| LoadError::ReadDir {
            dir: dir.to_owned(),
            source,
        })?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| LoadError::ReadDir {
                dir: dir.to_owned(),
                source,
            })?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(LoadError::Empty(dir.to_owned()));
        }
        files.sort();
        let mut sources = Vec::with_capacity(files.len());
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|source| LoadError::ReadFile {
                file: file.clone(),
                source,
            })?;
            sources.push((file, text));
        }
        Definitions::from_sources(sources)
    }

    /// Parses and validates in-memory files, each given as (path, text); the language
    /// id is the path's file stem.
    pub fn from_sources(sources: Vec<(PathBuf, String)>) -> Result<Definitions, LoadError> {
        let mut problems = Vec::new();
        let mut languages = Vec::new();
        for (file, text) in sources {
            let id = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match toml::from_str::<LanguageFile>(&text) {
                Ok(spec) => languages.push(LanguageDef { id, file, spec }),
                Err(e) => problems.push(Problem {
                    file,
                    field: String::new(),
                    message: e.to_string().trim_end().to_owned(),
                }),
            }
        }
        for lang in &languages {
            validate_language(lang, &mut problems);
        }
        validate_across(&languages, &mut problems);
        if problems.is_empty() {
            Ok(Definitions { languages })
        } else {
            Err(LoadError::Invalid(problems))
        }
    }

    /// All compilers with their language, in catalogue order.
    pub fn compilers(&self) -> impl Iterator<Item = (&LanguageDef, &CompilerDef)> {
        self.languages
            .iter()
            .flat_map(|l| l.spec.compilers.iter().map(move |c| (l, c)))
    }
}

/// The switches that apply to `compiler`: the language's shared ones (if inherited),
/// then its own.
pub fn effective_switches<'a>(
    lang: &'a LanguageFile,
    compiler: &'a CompilerDef,
) -> Vec<&'a SwitchDef> {
    let shared = lang.switches.iter().filter(|_| compiler.inherit_switches);
    shared.chain(compiler.switches.iter()).collect()
}

struct Ctx<'a> {
    file: &'a Path,
    problems: &'a mut Vec<Problem>,
}

impl Ctx<'_> {
    fn bad(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_owned(),
            field: field.into(),
            message: message.into(),
        });
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'+' | b'-')
        })
}

fn validate_language(lang: &LanguageDef, problems: &mut Vec<Problem>) {
    let mut cx = Ctx {
        file: &lang.file,
        problems,
    };
    let spec = &lang.spec;
    if !is_token(&lang.id) {
        cx.bad(
            "",
            format!("file name `{}` is not a valid language id", lang.id),
        );
    }
    if spec.language.trim().is_empty() {
        cx.bad("language", "must not be empty");
    }
    if spec.template.trim().is_empty() {
        cx.bad("template", "must not be empty");
    }
    let mut seen = BTreeSet::new();
    for alias in &spec.aliases {
        if !is_token(alias) {
            cx.bad(
                "aliases",
                format!("`{alias}` must be lowercase letters, digits, `.`, `_`, `+` or `-`"),
            );
        }
        if !seen.insert(alias.as_str()) {
            cx.bad("aliases", format!("`{alias}` appears twice"));
        }
    }
    for ext in &spec.extensions {
        if !is_token(ext) || ext.starts_with('.') {
            cx.bad(
                "extensions",
                format!("`{ext}` must be lowercase, without the leading dot"),
            );
        }
    }
    if spec.compilers.is_empty() {
        cx.bad("compiler", "at least one [[compiler]] is required");
    }
    if !spec.compilers.iter().any(|c| c.id == spec.default_compiler) {
        let ids: Vec<&str> = spec.compilers.iter().map(|c| c.id.as_str()).collect();
        cx.bad(
            "default_compiler",
            format!(
                "`{}` is not the id of a compiler in this file (ids: {})",
                spec.default_compiler,
                ids.join(", ")
            ),
        );
    }
    for (i, sw) in spec.switches.iter().enumerate() {
        if let SwitchDef::Single(s) = sw {
            if s.flags.is_empty() {
                cx.bad(format!("switch[{i}].flags"), "must not be empty");
            }
        }
    }
    for c in &spec.compilers {
        validate_compiler(spec, c, &mut cx);
    }
    validate_conformance(spec, &mut cx);
}

/// Checks one `[conformance]` table as written. `compiled` says whether the table
/// applies to at least one compiler with a compile step.
fn validate_conformance_table(t: &ConformanceDef, field: &str, compiled: bool, cx: &mut Ctx<'_>) {
    for check in ConformanceCheck::ALL {
        if t.program(check).is_some_and(|p| p.trim().is_empty()) {
            cx.bad(
                format!("{field}.{}", check.name()),
                "must not be empty when present",
            );
        }
    }
    if !compiled {
        if t.compile_error.is_some() {
            cx.bad(
                format!("{field}.compile_error"),
                "only for compilers with a compile step",
            );
        }
        if t.skips(ConformanceCheck::CompileError) {
            cx.bad(
                format!("{field}.skip"),
                "`compile_error` applies only to compilers with a compile step",
            );
        }
    }
    let Some(skip) = &t.skip else {
        if t.skip_reason.is_some() {
            cx.bad(format!("{field}.skip_reason"), "given without `skip`");
        }
        return;
    };
    let mut seen = BTreeSet::new();
    for name in skip {
        match ConformanceCheck::from_name(name) {
            None => {
                let valid: Vec<&str> = ConformanceCheck::ALL.iter().map(|c| c.name()).collect();
                cx.bad(
                    format!("{field}.skip"),
                    format!(
                        "`{name}` is not a conformance check (checks: {})",
                        valid.join(", ")
                    ),
                );
            }
            Some(check) => {
                if !seen.insert(check) {
                    cx.bad(format!("{field}.skip"), format!("`{name}` appears twice"));
                }
                if t.program(check).is_some() {
                    cx.bad(
                        format!("{field}.skip"),
                        format!("`{name}` is both skipped and given a program"),
                    );
                }
            }
        }
    }
    let reason = t.skip_reason.as_deref().unwrap_or("").trim();
    if !skip.is_empty() && reason.is_empty() {
        cx.bad(
            format!("{field}.skip_reason"),
            "every skip needs a reason: say why the language cannot do it",
        );
    }
    if skip.is_empty() && t.skip_reason.is_some() {
        cx.bad(format!("{field}.skip_reason"), "given with an empty `skip`");
    }
}

/// The conformance programs: well-formed tables, and every check either given a
/// program or skipped (with a reason) for every compiler of the language.
fn validate_conformance(spec: &LanguageFile, cx: &mut Ctx<'_>) {
    let has_compile = |c: &CompilerDef| c.compile.is_some();
    if let Some(t) = &spec.conformance {
        let compiled = spec.compilers.iter().any(has_compile);
        validate_conformance_table(t, "conformance", compiled, cx);
    }
    for c in &spec.compilers {
        let field = format!("compiler[{}].conformance", c.id);
        if let Some(t) = &c.conformance {
            validate_conformance_table(t, &field, has_compile(c), cx);
        }
        let merged = ConformanceDef::merged(spec.conformance.as_ref(), c.conformance.as_ref());
        for check in ConformanceCheck::ALL {
            if check == ConformanceCheck::CompileError && !has_compile(c) {
                continue;
            }
            if merged.program(check).is_none() && !merged.skips(check) {
                cx.bad(
                    field.clone(),
                    format!(
                        "no `{}` program: give one in [conformance] or [compiler.conformance], \
                         or name it in `skip` with a `skip_reason`",
                        check.name()
                    ),
                );
            }
        }
    }
}

/// Where a program path in an argv may point: somewhere the sandbox binds.
fn program_problem(arg: &str, allow_relative: bool) -> Option<String> {
    if arg.starts_with("{toolchain}/") {
        return None;
    }
    if allow_relative && arg.starts_with("./") {
        return None;
    }
    if arg.starts_with("/usr/local/") {
        return Some(format!(
            "`{arg}`: /usr/local is not visible inside the sandbox; use a Debian package or the toolchains root"
        ));
    }
    const VISIBLE: [&str; 5] = ["/usr/", "/bin/", "/lib/", "/lib64/", "/opt/codeexec/"];
    if VISIBLE.iter().any(|p| arg.starts_with(p)) {
        return None;
    }
    Some(format!(
        "`{arg}` must be an absolute path under /usr, /bin or /opt/codeexec, or start with {{toolchain}}/{}",
        if allow_relative { " or ./" } else { "" }
    ))
}

/// Host paths a catalogue entry may never expose to boxes: secrets, other users'
/// files, codeexec's own state, and the kernel's interfaces.
const FORBIDDEN_HOST_PATHS: &[&str] = &[
    "/root",
    "/home",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/tmp",
    "/var/tmp",
    "/var/lib/codeexec",
    "/etc/codeexec",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/ssh",
    "/etc/sudoers",
    "/etc/ssl/private",
    "/boot",
];

/// Why a `host_paths` entry is refused, if it is.
pub fn host_path_problem(path: &str) -> Option<String> {
    let p = std::path::Path::new(path);
    if !p.is_absolute() {
        return Some(format!("`{path}` must be absolute"));
    }
    if p.components().any(|c| {
        matches!(
            c,
            std::path::Component::ParentDir | std::path::Component::CurDir
        )
    }) {
        return Some(format!("`{path}` must not contain `.` or `..`"));
    }
    if p.parent().is_none() || path == "/etc" || path == "/var" || path == "/var/lib" {
        return Some(format!(
            "`{path}` is too broad: name the toolchain's own entry"
        ));
    }
    FORBIDDEN_HOST_PATHS
        .iter()
        .find(|f| p.starts_with(f))
        .map(|f| format!("`{path}` is below {f}, which boxes must never see"))
}

fn validate_compiler(lang: &LanguageFile, c: &CompilerDef, cx: &mut Ctx<'_>) {
    let at = |field: &str| format!("compiler[{}].{field}", c.id);
    for path in &c.host_paths {
        if let Some(problem) = host_path_problem(path) {
            cx.bad(at("host_paths"), problem);
        }
    }
    if !is_token(&c.id) {
        cx.bad(
            format!("compiler[{}].id", c.id),
            "must be lowercase letters, digits, `.`, `_`, `+` or `-`",
        );
    }
    let without_version = c.name.replace("{version}", "");
    if !is_name_safe(&without_version) && !c.name.starts_with("{version}") {
        cx.bad(
            at("name"),
            format!(
                "`{}` may hold only letters, digits, `.`, `_`, `+`, `-` and {{version}}",
                c.name
            ),
        );
    }
    if c.display_name.trim().is_empty() {
        cx.bad(at("display_name"), "must not be empty");
    }
    if c.display_compile_command.trim().is_empty() {
        cx.bad(at("display_compile_command"), "must not be empty");
    }

    // Version rule.
    match c.version.command.first() {
        None => cx.bad(at("version.command"), "must not be empty"),
        Some(p) => {
            if let Some(m) = program_problem(p, false) {
                cx.bad(at("version.command"), m);
            }
        }
    }
    if let Err(e) = VersionExtractor::new(c.version.regex.as_deref(), c.version.format.as_deref()) {
        cx.bad(at("version.regex"), format!("does not compile: {e}"));
    }
    if c.version.timeout_ms == Some(0) {
        cx.bad(at("version.timeout_ms"), "must be positive");
    }

    // Files and argvs.
    let src = &c.source_file;
    if src.is_empty() || src.contains('/') || src == "." || src == ".." || src.starts_with('-') {
        cx.bad(
            at("source_file"),
            format!("`{src}` must be a plain file name"),
        );
    }
    let steps = c.compile.as_ref().map(|s| s.to_vec()).unwrap_or_default();
    if c.compile.is_some() && steps.is_empty() {
        cx.bad(
            at("compile"),
            "must hold at least one argv (omit it for interpreters)",
        );
    }
    for (i, step) in steps.iter().enumerate() {
        match step.first() {
            None => cx.bad(at(&format!("compile[{i}]")), "argv must not be empty"),
            Some(p) => {
                if let Some(m) = program_problem(p, false) {
                    cx.bad(at(&format!("compile[{i}]")), m);
                }
            }
        }
    }
    match c.run.first() {
        None => cx.bad(at("run"), "must not be empty"),
        Some(p) => {
            if let Some(m) = program_problem(p, true) {
                cx.bad(at("run"), m);
            }
        }
    }
    let mut all_args: Vec<(&str, &String)> = Vec::new();
    for step in &steps {
        all_args.extend(step.iter().map(|a| ("compile", a)));
    }
    all_args.extend(c.run.iter().map(|a| ("run", a)));
    all_args.extend(c.version.command.iter().map(|a| ("version.command", a)));
    for (field, arg) in &all_args {
        for p in expand::unknown_placeholders(arg) {
            cx.bad(at(field), format!("unknown placeholder {p} in `{arg}`"));
        }
    }
    for (k, v) in &c.env {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            cx.bad(at("env"), format!("`{k}` is not a valid variable name"));
        }
        for p in expand::unknown_placeholders(v) {
            cx.bad(at(&format!("env.{k}")), format!("unknown placeholder {p}"));
        }
    }
    for marker in [FLAGS, RAW] {
        let n = steps
            .iter()
            .chain(std::iter::once(&c.run))
            .flatten()
            .filter(|a| *a == marker)
            .count();
        if n > 1 {
            cx.bad(
                at("compile/run"),
                format!("{marker} may appear at most once"),
            );
        }
    }
    if c.version.command.iter().any(|a| a == FLAGS || a == RAW) {
        cx.bad(
            at("version.command"),
            "{flags} and {raw} have no meaning here",
        );
    }
    if c.template.as_deref().is_some_and(|t| t.trim().is_empty()) {
        cx.bad(at("template"), "must not be empty when present");
    }

    // Raw options.
    if c.compiler_option_raw == Some(true) && steps.is_empty() {
        cx.bad(
            at("compiler_option_raw"),
            "there is no compile step to pass them to",
        );
    }

    // Switches.
    let mut names: HashMap<&str, &str> = HashMap::new();
    for sw in effective_switches(lang, c) {
        let (target, what) = match sw {
            SwitchDef::Single(s) => {
                if names.insert(&s.name, "switch").is_some() {
                    cx.bad(
                        at("switch"),
                        format!("switch name `{}` is used twice", s.name),
                    );
                }
                (s.target, format!("switch `{}`", s.name))
            }
            SwitchDef::Select(s) => {
                if names.insert(&s.name, "select group").is_some() {
                    cx.bad(
                        at("switch"),
                        format!("switch name `{}` is used twice", s.name),
                    );
                }
                if s.options.is_empty() {
                    cx.bad(at("switch"), format!("select `{}` has no options", s.name));
                }
                for o in &s.options {
                    if names.insert(&o.name, "select option").is_some() {
                        cx.bad(
                            at("switch"),
                            format!("switch name `{}` is used twice", o.name),
                        );
                    }
                }
                if let Some(d) = &s.default {
                    if !s.options.iter().any(|o| &o.name == d) {
                        cx.bad(
                            at("switch"),
                            format!(
                                "select `{}`: default `{d}` is not one of its options",
                                s.name
                            ),
                        );
                    }
                }
                (s.target, format!("select `{}`", s.name))
            }
        };
        if target == Some(Target::Compile) && steps.is_empty() {
            cx.bad(
                at("switch"),
                format!("{what} targets the compile step, which this compiler does not have"),
            );
        }
    }
    for name in names.keys() {
        if name.is_empty() || name.contains(',') || name.chars().any(char::is_whitespace) {
            cx.bad(
                at("switch"),
                format!("switch name `{name}` must be non-empty, with no comma or space"),
            );
        }
    }

    // Installation.
    let i = &c.install;
    let own = [i.pip.is_some(), i.npm.is_some(), !i.deb.is_empty()];
    if own.iter().filter(|b| **b).count() > 1 {
        cx.bad(at("install"), "at most one of pip, npm and deb");
    }
    if i.apt.is_empty() && !i.has_own_dir() {
        cx.bad(
            at("install"),
            "say how to install the toolchain: apt, pip, npm or deb",
        );
    }
    for p in i.apt.iter().chain(i.deb.iter()) {
        if !is_token(p) {
            cx.bad(at("install"), format!("`{p}` is not a Debian package name"));
        }
    }
    for spec in [&i.pip, &i.npm].into_iter().flatten() {
        if spec.package.is_empty() || spec.version.is_empty() {
            cx.bad(at("install"), "package and version must not be empty");
        }
    }
    if let Some(d) = &i.dir {
        if d.is_empty() || d.contains('/') || d.starts_with('.') {
            cx.bad(
                at("install.dir"),
                format!("`{d}` must be a plain directory name"),
            );
        }
    }
    let uses_toolchain = all_args.iter().any(|(_, a)| a.contains("{toolchain}"))
        || c.env.values().any(|v| v.contains("{toolchain}"));
    if uses_toolchain && !i.has_own_dir() {
        cx.bad(
            at("install"),
            "{toolchain} is used but the compiler has no pip, npm or deb install",
        );
    }
}

fn validate_across(languages: &[LanguageDef], problems: &mut Vec<Problem>) {
    // Ids and aliases share one case-insensitive namespace. Display names must be
    // unique (also ignoring case) but may equal another language's alias ignoring case:
    // Wandbox's "CPP" (the preprocessor) versus the alias `cpp` of C++. Lookups try the
    // exact display name first, so both stay reachable.
    let mut lang_keys: HashMap<String, &Path> = HashMap::new();
    let mut display: HashMap<String, &Path> = HashMap::new();
    let mut extensions: HashMap<&str, &Path> = HashMap::new();
    let mut ids: HashMap<&str, &Path> = HashMap::new();
    let mut fixed_names: HashMap<&str, &Path> = HashMap::new();
    for lang in languages {
        let shown = lang.spec.language.to_lowercase();
        if let Some(other) = display.insert(shown, &lang.file) {
            problems.push(Problem {
                file: lang.file.clone(),
                field: "language".into(),
                message: format!(
                    "`{}` is also the language of {}",
                    lang.spec.language,
                    other.display()
                ),
            });
        }
        let mut keys: BTreeSet<String> = BTreeSet::new();
        keys.insert(lang.id.clone());
        keys.extend(lang.spec.aliases.iter().cloned());
        for key in keys {
            if let Some(other) = lang_keys.get(&key) {
                problems.push(Problem {
                    file: lang.file.clone(),
                    field: "aliases".into(),
                    message: format!("`{key}` already names the language of {}", other.display()),
                });
            } else {
                lang_keys.insert(key, &lang.file);
            }
        }
        for ext in &lang.spec.extensions {
            if let Some(other) = extensions.insert(ext, &lang.file) {
                problems.push(Problem {
                    file: lang.file.clone(),
                    field: "extensions".into(),
                    message: format!("`{ext}` is already claimed by {}", other.display()),
                });
            }
        }
        for c in &lang.spec.compilers {
            if let Some(other) = ids.insert(&c.id, &lang.file) {
                problems.push(Problem {
                    file: lang.file.clone(),
                    field: format!("compiler[{}].id", c.id),
                    message: format!(
                        "compiler id `{}` is already used in {}",
                        c.id,
                        other.display()
                    ),
                });
            }
            if !c.name.contains("{version}") {
                if let Some(other) = fixed_names.insert(&c.name, &lang.file) {
                    problems.push(Problem {
                        file: lang.file.clone(),
                        field: format!("compiler[{}].name", c.id),
                        message: format!(
                            "name `{}` is already used in {}",
                            c.name,
                            other.display()
                        ),
                    });
                }
            }
        }
    }
    // A fixed compiler name must not shadow another language's name or alias.
    for lang in languages {
        for c in &lang.spec.compilers {
            if c.name.contains("{version}") {
                continue;
            }
            if let Some(owner) = lang_keys.get(&c.name.to_lowercase()) {
                if *owner != lang.file.as_path() {
                    problems.push(Problem {
                        file: lang.file.clone(),
                        field: format!("compiler[{}].name", c.id),
                        message: format!(
                            "`{}` is a language name or alias in {}",
                            c.name,
                            owner.display()
                        ),
                    });
                }
            }
        }
    }
}
