//! Serializable views of the catalogue: compilers in the shape of Wandbox's
//! `list.json`, and languages for `/v1/languages`.

use serde::Serialize;

use crate::catalog::{Catalog, Compiler, Language};
use crate::model::{SwitchDef, Target};

/// One compiler, shaped like an element of Wandbox's `GET /api/list.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CompilerInfo {
    pub name: String,
    pub version: String,
    pub language: String,
    pub display_name: String,
    /// Names accepted by the template endpoint for this compiler's hello world.
    pub templates: Vec<String>,
    pub compiler_option_raw: bool,
    pub runtime_option_raw: bool,
    pub display_compile_command: String,
    pub switches: Vec<SwitchInfo>,
}

/// A switch as Wandbox lists it; `runtime` tells that its flags go to the run command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SwitchInfo {
    Single {
        name: String,
        #[serde(rename = "display-name")]
        display_name: String,
        #[serde(rename = "display-flags")]
        display_flags: String,
        default: bool,
        runtime: bool,
    },
    Select {
        name: String,
        options: Vec<SelectOptionInfo>,
        /// The option applied when none is named; empty when the group has none.
        default: String,
        runtime: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelectOptionInfo {
    pub name: String,
    #[serde(rename = "display-name")]
    pub display_name: String,
    #[serde(rename = "display-flags")]
    pub display_flags: String,
}

/// One language with its installed compilers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LanguageInfo {
    /// Stable id (the catalogue file stem).
    pub id: String,
    /// Display name ("C++").
    pub name: String,
    pub aliases: Vec<String>,
    pub extensions: Vec<String>,
    pub default_compiler: String,
    /// Installed compiler names, in catalogue order.
    pub compilers: Vec<String>,
    /// Versions of those compilers, in the same order.
    pub versions: Vec<String>,
    pub template: String,
}

impl CompilerInfo {
    pub fn of(c: &Compiler) -> CompilerInfo {
        let switches = c
            .switches
            .iter()
            .map(|sw| {
                let runtime = sw.target == Target::Run;
                match &sw.def {
                    SwitchDef::Single(s) => SwitchInfo::Single {
                        name: s.name.clone(),
                        display_name: s.display_name.clone(),
                        display_flags: s.flags.join(" "),
                        default: s.default,
                        runtime,
                    },
                    SwitchDef::Select(s) => SwitchInfo::Select {
                        name: s.name.clone(),
                        options: s
                            .options
                            .iter()
                            .map(|o| SelectOptionInfo {
                                name: o.name.clone(),
                                display_name: o.display_name.clone(),
                                display_flags: o.flags.join(" "),
                            })
                            .collect(),
                        default: s.default.clone().unwrap_or_default(),
                        runtime,
                    },
                }
            })
            .collect();
        CompilerInfo {
            name: c.name.clone(),
            version: c.version.clone(),
            language: c.language.clone(),
            display_name: c.display_name.clone(),
            templates: vec![c.name.clone()],
            compiler_option_raw: c.compiler_option_raw,
            runtime_option_raw: c.runtime_option_raw,
            display_compile_command: c.display_compile_command.clone(),
            switches,
        }
    }
}

impl Catalog {
    /// Every installed compiler, in catalogue order (Wandbox's `list.json`).
    pub fn compiler_infos(&self) -> Vec<CompilerInfo> {
        self.installed().iter().map(CompilerInfo::of).collect()
    }

    /// Every language with at least one installed compiler.
    pub fn language_infos(&self) -> Vec<LanguageInfo> {
        self.languages().map(|l| self.language_info(l)).collect()
    }

    fn language_info(&self, l: &Language) -> LanguageInfo {
        let compilers: Vec<&Compiler> = self.compilers_of(l).collect();
        LanguageInfo {
            id: l.id.clone(),
            name: l.name.clone(),
            aliases: l.aliases.clone(),
            extensions: l.extensions.clone(),
            default_compiler: self
                .default_compiler_of(l)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            compilers: compilers.iter().map(|c| c.name.clone()).collect(),
            versions: compilers.iter().map(|c| c.version.clone()).collect(),
            template: l.template.clone(),
        }
    }
}
