//! `GET /v1/compilers` and `GET /v1/languages`: the installed catalogue.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use codeexec_catalog::{CompilerInfo, LanguageInfo, ResolveError, SwitchInfo};
use serde::{Deserialize, Serialize};

use crate::envelope::Reply;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct CompilersQuery {
    language: Option<String>,
}

#[derive(Debug, Serialize)]
struct Listing {
    count: usize,
    compilers: Vec<CompilerView>,
}

#[derive(Debug, Serialize)]
struct Languages {
    count: usize,
    languages: Vec<LanguageView>,
}

/// A compiler as `/v1/compilers` lists it.
#[derive(Debug, Serialize)]
struct CompilerView {
    name: String,
    version: String,
    language: String,
    display_name: String,
    display_compile_command: String,
    switches: Vec<SwitchView>,
    compiler_option_raw: bool,
    runtime_option_raw: bool,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum SwitchView {
    /// An on/off switch.
    Single {
        name: String,
        display_name: String,
        flags: String,
        default: bool,
        /// Its flags go to the run command, not the compiler.
        runtime: bool,
    },
    /// A group of which at most one option is chosen.
    Select {
        name: String,
        options: Vec<SelectOptionView>,
        default: String,
        runtime: bool,
    },
}

#[derive(Debug, Serialize)]
struct SelectOptionView {
    name: String,
    display_name: String,
    flags: String,
}

impl From<CompilerInfo> for CompilerView {
    fn from(c: CompilerInfo) -> Self {
        CompilerView {
            switches: c.switches.into_iter().map(SwitchView::from).collect(),
            name: c.name,
            version: c.version,
            language: c.language,
            display_name: c.display_name,
            display_compile_command: c.display_compile_command,
            compiler_option_raw: c.compiler_option_raw,
            runtime_option_raw: c.runtime_option_raw,
        }
    }
}

impl From<SwitchInfo> for SwitchView {
    fn from(s: SwitchInfo) -> Self {
        match s {
            SwitchInfo::Single {
                name,
                display_name,
                display_flags,
                default,
                runtime,
            } => SwitchView::Single {
                name,
                display_name,
                flags: display_flags,
                default,
                runtime,
            },
            SwitchInfo::Select {
                name,
                options,
                default,
                runtime,
            } => SwitchView::Select {
                name,
                options: options
                    .into_iter()
                    .map(|o| SelectOptionView {
                        name: o.name,
                        display_name: o.display_name,
                        flags: o.display_flags,
                    })
                    .collect(),
                default,
                runtime,
            },
        }
    }
}

/// A language as `/v1/languages` lists it.
#[derive(Debug, Serialize)]
struct LanguageView {
    /// Display name ("C++").
    language: String,
    /// How many compilers (versions) are installed.
    versions: usize,
    default_compiler: String,
    /// Stable id (`cpp`).
    id: String,
    aliases: Vec<String>,
    compilers: Vec<String>,
    extensions: Vec<String>,
}

impl From<LanguageInfo> for LanguageView {
    fn from(l: LanguageInfo) -> Self {
        LanguageView {
            language: l.name,
            versions: l.compilers.len(),
            default_compiler: l.default_compiler,
            id: l.id,
            aliases: l.aliases,
            compilers: l.compilers,
            extensions: l.extensions,
        }
    }
}

pub async fn compilers(
    State(state): State<AppState>,
    query: Result<Query<CompilersQuery>, QueryRejection>,
) -> Result<Reply, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let catalog = state.catalog();
    let language = match q.language.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => {
            let by_language = catalog.language(name).map(|l| l.name.clone());
            let by_compiler = || catalog.compiler(name).map(|c| c.language.clone());
            match by_language.or_else(by_compiler) {
                Some(language) => Some(language),
                // The resolver's error carries the close matches.
                None => {
                    return Err(catalog
                        .resolve(name, None, &[], &[], &[])
                        .err()
                        .unwrap_or(ResolveError::UnknownLanguage {
                            name: name.to_owned(),
                            suggestions: Vec::new(),
                        })
                        .into())
                }
            }
        }
    };
    let compilers: Vec<CompilerView> = catalog
        .compiler_infos()
        .into_iter()
        .filter(|c| language.as_ref().is_none_or(|l| &c.language == l))
        .map(CompilerView::from)
        .collect();
    Ok(Reply::new(
        super::summary("GET", "/v1/compilers"),
        Listing {
            count: compilers.len(),
            compilers,
        },
    ))
}

pub async fn languages(State(state): State<AppState>) -> Reply {
    let languages: Vec<LanguageView> = state
        .catalog()
        .language_infos()
        .into_iter()
        .map(LanguageView::from)
        .collect();
    Reply::new(
        super::summary("GET", "/v1/languages"),
        Languages {
            count: languages.len(),
            languages,
        },
    )
}
