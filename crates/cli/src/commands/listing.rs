//! `codeexec languages` and `codeexec compilers`.

use std::process::ExitCode;

use anyhow::anyhow;

use super::Context;

pub fn languages(ctx: &Context, json: bool, markdown: bool) -> anyhow::Result<ExitCode> {
    let catalog = ctx.catalog()?;
    let infos = catalog.language_infos();
    if json {
        println!("{}", serde_json::to_string_pretty(&infos)?);
        return Ok(ExitCode::SUCCESS);
    }
    if markdown {
        println!("| language | aliases | compilers (default first) |");
        println!("|---|---|---|");
        for lang in catalog.languages() {
            let default = catalog.default_compiler_of(lang).map(|c| c.name.as_str());
            let mut names: Vec<&str> = default.into_iter().collect();
            names.extend(
                catalog
                    .compilers_of(lang)
                    .map(|c| c.name.as_str())
                    .filter(|n| Some(*n) != default),
            );
            println!(
                "| {} | {} | {} |",
                lang.name,
                lang.aliases.join(", "),
                names.join(", ")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    for lang in catalog.languages() {
        let compilers: Vec<&str> = catalog
            .compilers_of(lang)
            .map(|c| c.name.as_str())
            .collect();
        let default = catalog
            .default_compiler_of(lang)
            .map_or("-", |c| c.name.as_str());
        println!(
            "{:<16} default {:<26} {} compiler(s); aliases: {}",
            lang.name,
            default,
            compilers.len(),
            lang.aliases.join(", ")
        );
    }
    println!("{} languages", catalog.languages().count());
    Ok(ExitCode::SUCCESS)
}

pub fn compilers(ctx: &Context, language: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let catalog = ctx.catalog()?;
    let chosen: Vec<&codeexec_catalog::Compiler> = match language {
        Some(key) => {
            let lang = catalog
                .language(key)
                .ok_or_else(|| anyhow!("unknown language `{key}` (see `codeexec languages`)"))?;
            catalog.compilers_of(lang).collect()
        }
        None => catalog.installed().iter().collect(),
    };
    if json {
        let infos: Vec<_> = chosen
            .iter()
            .map(|c| codeexec_catalog::CompilerInfo::of(c))
            .collect();
        println!("{}", serde_json::to_string_pretty(&infos)?);
        return Ok(ExitCode::SUCCESS);
    }
    for c in &chosen {
        println!(
            "{:<28} {:<14} {:<12} {}",
            c.name, c.language, c.version, c.display_compile_command
        );
    }
    println!("{} compilers", chosen.len());
    Ok(ExitCode::SUCCESS)
}
