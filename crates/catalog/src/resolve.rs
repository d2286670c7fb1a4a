//! Turning a request (language or compiler, options, raw options) into a [`Recipe`].
//!
//! Unlike Wandbox, unknown option names are an error rather than ignored, and default
//! switches apply when the request names no options (see [`Catalog::resolve`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::{Catalog, Compiler};
use crate::expand::{self, FLAGS, RAW};
use crate::limits::Limits;
use crate::model::{SwitchDef, Target};
use crate::suggest::close_matches;

/// Everything the engine needs to compile and run one program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipe {
    /// The compiler's public name (`gcc-12.2.0`).
    pub compiler: String,
    /// The catalogue id (`gcc-12`).
    pub compiler_id: String,
    /// The language's display name ("C++").
    pub language: String,
    pub language_id: String,
    pub version: String,
    pub display_name: String,
    pub display_compile_command: String,
    /// The name to save the main source under, in the box's working directory.
    pub source_file: String,
    /// Compile steps, run in order in the working directory; empty for interpreters.
    /// A step that fails ends the job as a compile error.
    pub compile: Vec<Vec<String>>,
    /// The run argv.
    pub run: Vec<String>,
    /// Environment for both steps, on top of the engine's base (PATH, HOME, LANG …).
    pub env: BTreeMap<String, String>,
    /// The service defaults merged with the compiler's overrides.
    pub limits: Limits,
    /// The switches in effect (named ones and defaults), in catalogue order.
    pub options: Vec<String>,
}

impl Recipe {
    /// The first compile step, if any.
    pub fn compile_argv(&self) -> Option<&[String]> {
        self.compile.first().map(Vec::as_slice)
    }
}

/// Which raw option list was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    Compile,
    Runtime,
}

/// Why a request cannot be resolved. Each maps to a 400 naming [`ResolveError::field`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("give a language or a compiler")]
    Empty,
    #[error("unknown language or compiler `{name}`{}", did_you_mean(.suggestions))]
    UnknownLanguage {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("unknown compiler `{name}`{}", did_you_mean(.suggestions))]
    UnknownCompiler {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("compiler `{compiler}` is a {compiler_language} compiler, not {language}")]
    LanguageMismatch {
        compiler: String,
        compiler_language: String,
        language: String,
    },
    #[error("no compiler for {language} is installed: {}", .reasons.join("; "))]
    LanguageUnavailable {
        language: String,
        reasons: Vec<String>,
    },
    #[error(
        "unknown option(s) {} for compiler `{compiler}`; valid options: {}",
        quoted(.unknown),
        if .valid.is_empty() { "none".to_string() } else { .valid.join(", ") }
    )]
    UnknownOptions {
        compiler: String,
        unknown: Vec<String>,
        valid: Vec<String>,
    },
    #[error("options {} of compiler `{compiler}` exclude each other (group `{group}`): choose one", quoted(.options))]
    ConflictingOptions {
        compiler: String,
        group: String,
        options: Vec<String>,
    },
    #[error("compiler `{compiler}` does not accept raw {} options", match .kind { RawKind::Compile => "compiler", RawKind::Runtime => "runtime" })]
    RawNotAllowed { compiler: String, kind: RawKind },
}

impl ResolveError {
    /// The request field at fault (Wandbox's spelling).
    pub fn field(&self) -> &'static str {
        match self {
            ResolveError::Empty
            | ResolveError::UnknownLanguage { .. }
            | ResolveError::LanguageUnavailable { .. } => "language",
            ResolveError::UnknownCompiler { .. } | ResolveError::LanguageMismatch { .. } => {
                "compiler"
            }
            ResolveError::UnknownOptions { .. } | ResolveError::ConflictingOptions { .. } => {
                "options"
            }
            ResolveError::RawNotAllowed {
                kind: RawKind::Compile,
                ..
            } => "compiler-option-raw",
            ResolveError::RawNotAllowed {
                kind: RawKind::Runtime,
                ..
            } => "runtime-option-raw",
        }
    }
}

fn did_you_mean(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", s.join(", "))
    }
}

fn quoted(xs: &[String]) -> String {
    xs.iter()
        .map(|x| format!("`{x}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits a Wandbox raw option string: one argument per line (`\r\n` accepted), and a
/// final newline does not make an empty argument.
pub fn split_raw(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
        .collect()
}

/// How many suggestions an unknown name gets.
const SUGGESTIONS: usize = 5;

impl Catalog {
    /// Resolves a request into a recipe.
    ///
    /// - `language_or_compiler`: a language (id, display name or alias) or a compiler
    ///   name, case-insensitive; may be empty when `compiler` is given.
    /// - `compiler`: an exact compiler name (case-insensitive); when both are given the
    ///   compiler must belong to the language.
    /// - `options`: switch names; each element may itself be comma-separated. Each name
    ///   must be a single switch or an option of a select group of the compiler; at
    ///   most one option per select group. With no options at all, every default
    ///   applies (single switches marked `default` and each group's default); with some,
    ///   the named single switches apply and every group not named keeps its default.
    /// - `compiler_raw` / `runtime_raw`: one argument per element (see [`split_raw`]),
    ///   refused when the compiler does not allow them.
    pub fn resolve(
        &self,
        language_or_compiler: &str,
        compiler: Option<&str>,
        options: &[String],
        compiler_raw: &[String],
        runtime_raw: &[String],
    ) -> Result<Recipe, ResolveError> {
        let c = self.pick_compiler(language_or_compiler.trim(), compiler.map(str::trim))?;
        if !compiler_raw.is_empty() && !c.compiler_option_raw {
            return Err(ResolveError::RawNotAllowed {
                compiler: c.name.clone(),
                kind: RawKind::Compile,
            });
        }
        if !runtime_raw.is_empty() && !c.runtime_option_raw {
            return Err(ResolveError::RawNotAllowed {
                compiler: c.name.clone(),
                kind: RawKind::Runtime,
            });
        }
        let chosen = choose_switches(c, options)?;
        let mut compile_flags = Vec::new();
        let mut run_flags = Vec::new();
        for (target, flags) in &chosen.flags {
            match target {
                Target::Compile => compile_flags.extend(flags.iter().cloned()),
                Target::Run => run_flags.extend(flags.iter().cloned()),
            }
        }
        let flags_step = step_with(&c.compile, FLAGS);
        let raw_step = step_with(&c.compile, RAW);
        let compile = c
            .compile
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let flags: &[String] = if i == flags_step { &compile_flags } else { &[] };
                let raw: &[String] = if i == raw_step { compiler_raw } else { &[] };
                expand::splice(step, flags, raw, true)
            })
            .collect();
        let run = expand::splice(&c.run, &run_flags, runtime_raw, true);
        Ok(Recipe {
            compiler: c.name.clone(),
            compiler_id: c.id.clone(),
            language: c.language.clone(),
            language_id: c.language_id.clone(),
            version: c.version.clone(),
            display_name: c.display_name.clone(),
            display_compile_command: c.display_compile_command.clone(),
            source_file: c.source_file.clone(),
            compile,
            run,
            env: c.env.clone(),
            limits: self.default_limits.merged(&c.limits),
            options: chosen.names,
        })
    }

    fn pick_compiler(&self, lang_q: &str, comp_q: Option<&str>) -> Result<&Compiler, ResolveError> {
        match comp_q.filter(|s| !s.is_empty()) {
            Some(name) => {
                let c = self
                    .compiler(name)
                    .ok_or_else(|| ResolveError::UnknownCompiler {
                        name: name.to_owned(),
                        suggestions: close_matches(
                            name,
                            self.compilers.iter().map(|c| c.name.as_str()),
                            SUGGESTIONS,
                        ),
                    })?;
                if lang_q.is_empty() || lang_q.eq_ignore_ascii_case(&c.name) {
                    return Ok(c);
                }
                match self.language(lang_q) {
                    Some(l) if l.id == c.language_id => Ok(c),
                    Some(l) => Err(ResolveError::LanguageMismatch {
                        compiler: c.name.clone(),
                        compiler_language: c.language.clone(),
                        language: l.name.clone(),
                    }),
                    None => Err(self.unknown_language(lang_q)),
                }
            }
            None => {
                if lang_q.is_empty() {
                    return Err(ResolveError::Empty);
                }
                if let Some(l) = self.language(lang_q) {
                    return self.default_compiler_of(l).ok_or_else(|| {
                        ResolveError::LanguageUnavailable {
                            language: l.name.clone(),
                            reasons: self
                                .unavailable
                                .iter()
                                .filter(|u| u.language == l.name)
                                .map(|u| format!("{}: {}", u.id, u.reason))
                                .collect(),
                        }
                    });
                }
                self.compiler(lang_q)
                    .ok_or_else(|| self.unknown_language(lang_q))
            }
        }
    }

    fn unknown_language(&self, q: &str) -> ResolveError {
        let mut names: Vec<&str> = Vec::new();
        for l in self.languages() {
            names.push(&l.name);
            names.push(&l.id);
            names.extend(l.aliases.iter().map(String::as_str));
        }
        names.extend(self.compilers.iter().map(|c| c.name.as_str()));
        ResolveError::UnknownLanguage {
            name: q.to_owned(),
            suggestions: close_matches(q, names, SUGGESTIONS),
        }
    }
}

/// The index of the step holding `marker`, else 0.
fn step_with(steps: &[Vec<String>], marker: &str) -> usize {
    steps
        .iter()
        .position(|s| expand::has_marker(s, marker))
        .unwrap_or(0)
}

struct Chosen {
    names: Vec<String>,
    flags: Vec<(Target, Vec<String>)>,
}

fn choose_switches(c: &Compiler, options: &[String]) -> Result<Chosen, ResolveError> {
    let requested: Vec<&str> = options
        .iter()
        .flat_map(|o| o.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();

    // Match each requested name to a switch (exactly, else case-insensitively).
    let mut valid: Vec<&str> = Vec::new();
    for sw in &c.switches {
        match &sw.def {
            SwitchDef::Single(s) => valid.push(&s.name),
            SwitchDef::Select(s) => valid.extend(s.options.iter().map(|o| o.name.as_str())),
        }
    }
    let mut named: BTreeSet<&str> = BTreeSet::new();
    let mut unknown: Vec<String> = Vec::new();
    for r in &requested {
        let hit = valid
            .iter()
            .find(|v| *v == r)
            .or_else(|| valid.iter().find(|v| v.eq_ignore_ascii_case(r)));
        match hit {
            Some(v) => {
                named.insert(v);
            }
            None if !unknown.iter().any(|u| u == r) => unknown.push((*r).to_owned()),
            None => {}
        }
    }
    if !unknown.is_empty() {
        return Err(ResolveError::UnknownOptions {
            compiler: c.name.clone(),
            unknown,
            valid: valid.iter().map(|s| s.to_string()).collect(),
        });
    }

    let none_requested = requested.is_empty();
    let mut chosen = Chosen {
        names: Vec::new(),
        flags: Vec::new(),
    };
    for sw in &c.switches {
        match &sw.def {
            SwitchDef::Single(s) => {
                if named.contains(s.name.as_str()) || (none_requested && s.default) {
                    chosen.names.push(s.name.clone());
                    chosen.flags.push((sw.target, s.flags.clone()));
                }
            }
            SwitchDef::Select(s) => {
                let picked: Vec<_> = s
                    .options
                    .iter()
                    .filter(|o| named.contains(o.name.as_str()))
                    .collect();
                if picked.len() > 1 {
                    return Err(ResolveError::ConflictingOptions {
                        compiler: c.name.clone(),
                        group: s.name.clone(),
                        options: picked.iter().map(|o| o.name.clone()).collect(),
                    });
                }
                let option = picked.first().copied().or_else(|| {
                    s.default
                        .as_ref()
                        .and_then(|d| s.options.iter().find(|o| &o.name == d))
                });
                if let Some(o) = option {
                    chosen.names.push(o.name.clone());
                    chosen.flags.push((sw.target, o.flags.clone()));
                }
            }
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_strings_split_on_lines() {
        assert_eq!(split_raw(""), Vec::<String>::new());
        assert_eq!(split_raw("-O2\n-lm\n"), vec!["-O2", "-lm"]);
        assert_eq!(split_raw("a\r\nb"), vec!["a", "b"]);
        assert_eq!(split_raw("a\n\nb"), vec!["a", "", "b"]);
        assert_eq!(split_raw("\n"), vec![""]);
    }
}
