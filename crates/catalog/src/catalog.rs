//! The catalogue as offered: installed compilers with their detected versions, the
//! languages that have at least one, and the compilers that are not offered, with why.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::detect::{self, DetectOptions, Probe};
use crate::expand;
use crate::limits::Limits;
use crate::load::{effective_switches, Definitions};
use crate::model::{ConformanceDef, LimitOverrides, SwitchDef, Target};

/// An installed compiler, ready to resolve requests for.
#[derive(Debug, Clone)]
pub struct Compiler {
    /// The public name, `name` with the detected version filled in (`gcc-12.2.0`).
    pub name: String,
    /// The catalogue's version-free id (`gcc-12`).
    pub id: String,
    /// The language's display name ("C++").
    pub language: String,
    /// The language's id (the file stem, `cpp`).
    pub language_id: String,
    pub version: String,
    pub display_name: String,
    pub display_compile_command: String,
    pub source_file: String,
    /// Compile steps with `{source}`/`{toolchain}` filled in; `{flags}`/`{raw}` stay.
    pub compile: Vec<Vec<String>>,
    /// Run argv, expanded the same way.
    pub run: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Switches in effect (language-level first), each with its target decided.
    pub switches: Vec<Switch>,
    pub compiler_option_raw: bool,
    pub runtime_option_raw: bool,
    pub limits: LimitOverrides,
    /// The hello-world program for this compiler.
    pub template: String,
    /// The compiler's own directory under the toolchains root, if it has one.
    pub toolchain_dir: Option<PathBuf>,
    /// Host paths the sandbox must bind read-only for this toolchain.
    pub host_paths: Vec<PathBuf>,
    /// The conformance programs for this compiler: the language's `[conformance]`
    /// with the compiler's own laid over it.
    pub conformance: ConformanceDef,
}

/// A switch with its target decided.
#[derive(Debug, Clone)]
pub struct Switch {
    pub def: SwitchDef,
    pub target: Target,
}

/// A compiler of the catalogue that is not offered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unavailable {
    pub id: String,
    /// The name template (`ghc-{version}`): the real name needs the version.
    pub name: String,
    pub language: String,
    pub reason: String,
}

/// A language of the catalogue.
#[derive(Debug, Clone)]
pub struct Language {
    /// The file stem (`cpp`).
    pub id: String,
    /// The display name ("C++").
    pub name: String,
    pub aliases: Vec<String>,
    pub extensions: Vec<String>,
    pub template: String,
    /// Indexes into [`Catalog::installed`], in catalogue order.
    pub(crate) compilers: Vec<usize>,
    /// Index into [`Catalog::installed`] of the default compiler, when any is installed.
    pub(crate) default: Option<usize>,
}

/// The catalogue after detection.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub(crate) languages: Vec<Language>,
    pub(crate) compilers: Vec<Compiler>,
    pub(crate) unavailable: Vec<Unavailable>,
    /// Lowercased compiler name → index.
    pub(crate) by_name: HashMap<String, usize>,
    /// Exact display name → index into `languages`.
    pub(crate) by_display: HashMap<String, usize>,
    /// Lowercased language id or alias → index into `languages`.
    pub(crate) by_language: HashMap<String, usize>,
    /// Lowercased display name → index into `languages`.
    pub(crate) by_display_lower: HashMap<String, usize>,
    pub(crate) default_limits: Limits,
}

impl Catalog {
    /// Runs every version command (in parallel) and builds the catalogue.
    pub fn detect(defs: &Definitions, opts: &DetectOptions) -> Catalog {
        let probes = detect::probe_all(defs, opts);
        Catalog::from_probes(defs, &opts.toolchains_root, probes)
    }

    /// Builds the catalogue from known versions (`id` → version), for callers that cache
    /// detection; compilers missing from the map are unavailable.
    pub fn from_versions(
        defs: &Definitions,
        toolchains_root: &Path,
        versions: &HashMap<String, String>,
    ) -> Catalog {
        let probes = defs
            .compilers()
            .map(|(_, c)| {
                versions
                    .get(&c.id)
                    .cloned()
                    .ok_or_else(|| "no version known".to_string())
            })
            .collect();
        Catalog::from_probes(defs, toolchains_root, probes)
    }

    /// Builds the catalogue from one probe per compiler, in catalogue order.
    pub fn from_probes(defs: &Definitions, toolchains_root: &Path, probes: Vec<Probe>) -> Catalog {
        let mut cat = Catalog {
            languages: Vec::new(),
            compilers: Vec::new(),
            unavailable: Vec::new(),
            by_name: HashMap::new(),
            by_display: HashMap::new(),
            by_language: HashMap::new(),
            by_display_lower: HashMap::new(),
            default_limits: Limits::default(),
        };
        let mut probes = probes.into_iter();
        for lang in &defs.languages {
            let spec = &lang.spec;
            let mut entry = Language {
                id: lang.id.clone(),
                name: spec.language.clone(),
                aliases: spec.aliases.clone(),
                extensions: spec.extensions.clone(),
                template: spec.template.clone(),
                compilers: Vec::new(),
                default: None,
            };
            for c in &spec.compilers {
                let probe = probes.next().unwrap_or_else(|| Err("not probed".into()));
                let version = match probe {
                    Ok(v) => v,
                    Err(reason) => {
                        cat.unavailable.push(Unavailable {
                            id: c.id.clone(),
                            name: c.name.clone(),
                            language: spec.language.clone(),
                            reason,
                        });
                        continue;
                    }
                };
                let name = c.name.replace("{version}", &version);
                if let Some(&other) = cat.by_name.get(&name.to_lowercase()) {
                    cat.unavailable.push(Unavailable {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        language: spec.language.clone(),
                        reason: format!(
                            "its name `{name}` is already taken by compiler `{}`",
                            cat.compilers[other].id
                        ),
                    });
                    continue;
                }
                let dir = detect::toolchain_dir(toolchains_root, c);
                let dir_str = dir
                    .as_ref()
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let v = detect::vars(c, &dir_str);
                let expand_argv = |argv: &[String]| {
                    argv.iter()
                        .map(|a| expand::substitute(a, v))
                        .collect::<Vec<_>>()
                };
                let compile: Vec<Vec<String>> = c
                    .compile
                    .iter()
                    .flat_map(|s| s.to_vec())
                    .map(|step| expand_argv(&step))
                    .collect();
                let has_compile = !compile.is_empty();
                let switches = effective_switches(spec, c)
                    .into_iter()
                    .map(|def| {
                        let declared = match def {
                            SwitchDef::Single(s) => s.target,
                            SwitchDef::Select(s) => s.target,
                        };
                        let fallback = if has_compile {
                            Target::Compile
                        } else {
                            Target::Run
                        };
                        Switch {
                            def: def.clone(),
                            target: declared.unwrap_or(fallback),
                        }
                    })
                    .collect();
                let index = cat.compilers.len();
                cat.by_name.insert(name.to_lowercase(), index);
                entry.compilers.push(index);
                if c.id == spec.default_compiler {
                    entry.default = Some(index);
                }
                cat.compilers.push(Compiler {
                    name,
                    id: c.id.clone(),
                    language: spec.language.clone(),
                    language_id: lang.id.clone(),
                    version,
                    display_name: c.display_name.clone(),
                    display_compile_command: c.display_compile_command.clone(),
                    source_file: c.source_file.clone(),
                    run: expand_argv(&c.run),
                    compile,
                    env: c
                        .env
                        .iter()
                        .map(|(k, val)| (k.clone(), expand::substitute(val, v)))
                        .collect(),
                    switches,
                    compiler_option_raw: c.compiler_option_raw.unwrap_or(has_compile),
                    runtime_option_raw: c.runtime_option_raw.unwrap_or(true),
                    limits: c.limits,
                    template: c.template.clone().unwrap_or_else(|| spec.template.clone()),
                    toolchain_dir: dir,
                    host_paths: c.host_paths.iter().map(PathBuf::from).collect(),
                    conformance: ConformanceDef::merged(
                        spec.conformance.as_ref(),
                        c.conformance.as_ref(),
                    ),
                });
            }
            // The default compiler is missing: fall back to the first installed one.
            if entry.default.is_none() {
                entry.default = entry.compilers.first().copied();
            }
            let index = cat.languages.len();
            cat.by_display.entry(entry.name.clone()).or_insert(index);
            cat.by_display_lower
                .entry(entry.name.to_lowercase())
                .or_insert(index);
            let mut keys = vec![entry.id.to_lowercase()];
            keys.extend(entry.aliases.iter().map(|a| a.to_lowercase()));
            for key in keys {
                cat.by_language.entry(key).or_insert(index);
            }
            cat.languages.push(entry);
        }
        cat
    }

    /// Replaces the service's default limits (which compiler overrides are merged into).
    pub fn with_default_limits(mut self, limits: Limits) -> Catalog {
        self.default_limits = limits;
        self
    }

    /// The service's default limits.
    pub fn default_limits(&self) -> Limits {
        self.default_limits
    }

    /// Installed compilers, in catalogue order.
    /// Every host path an installed compiler needs bound into boxes, deduplicated.
    pub fn host_paths(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self
            .installed()
            .iter()
            .flat_map(|c| c.host_paths.iter().cloned())
            .collect();
        paths.sort();
        paths.dedup();
        paths
    }

    pub fn installed(&self) -> &[Compiler] {
        &self.compilers
    }

    /// Compilers of the catalogue that are not offered, with why.
    pub fn unavailable(&self) -> &[Unavailable] {
        &self.unavailable
    }

    /// All languages of the catalogue, with or without an installed compiler.
    pub fn all_languages(&self) -> &[Language] {
        &self.languages
    }

    /// Languages with at least one installed compiler.
    pub fn languages(&self) -> impl Iterator<Item = &Language> {
        self.languages.iter().filter(|l| l.default.is_some())
    }

    /// The installed compilers of a language.
    pub fn compilers_of<'a>(&'a self, lang: &'a Language) -> impl Iterator<Item = &'a Compiler> {
        lang.compilers.iter().map(|&i| &self.compilers[i])
    }

    /// The compiler used when a request names only this language.
    pub fn default_compiler_of(&self, lang: &Language) -> Option<&Compiler> {
        lang.default.map(|i| &self.compilers[i])
    }

    /// An installed compiler by its exact name (case-insensitive).
    pub fn compiler(&self, name: &str) -> Option<&Compiler> {
        self.by_name
            .get(&name.to_lowercase())
            .map(|&i| &self.compilers[i])
    }

    /// A language by display name, id or alias, installed or not. Matching ignores case,
    /// except that an exact display name wins: `CPP` is the preprocessor, `cpp` is C++.
    pub fn language(&self, key: &str) -> Option<&Language> {
        let key = key.trim();
        let lower = key.to_lowercase();
        self.by_display
            .get(key)
            .or_else(|| self.by_language.get(&lower))
            .or_else(|| self.by_display_lower.get(&lower))
            .map(|&i| &self.languages[i])
    }

    /// The language of a file name, by its extension (`hello.py` → Python).
    pub fn language_for_file(&self, file_name: &str) -> Option<&Language> {
        let ext = Path::new(file_name).extension()?.to_str()?.to_lowercase();
        self.languages.iter().find(|l| l.extensions.contains(&ext))
    }

    /// The template of a language (by any of its names) or of a compiler (by name).
    pub fn template(&self, name: &str) -> Option<&str> {
        if let Some(c) = self.compiler(name) {
            return Some(&c.template);
        }
        self.language(name).map(|l| l.template.as_str())
    }
}
