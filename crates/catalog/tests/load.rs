//! Loading and validating catalogue files: the real `catalog/` directory, and broken
//! files whose errors must name the file and the field.

use std::collections::BTreeSet;
use std::path::PathBuf;

use codeexec_catalog::{source_catalog_dir, Definitions, LoadError};

/// A minimal valid language file; tests break one thing at a time.
const GOOD: &str = r#"
language = "Lang"
aliases = ["lg"]
extensions = ["lg"]
default_compiler = "lang-1"
template = "print hello"

[conformance]
echo_stdin = "echo stdin"
print_args = "print args"
exit_code = "exit 3"

[[compiler]]
id = "lang-1"
name = "lang-{version}"
display_name = "Lang"
display_compile_command = "lang prog.lg"
source_file = "prog.lg"
run = ["/usr/bin/lang", "prog.lg"]
version = { command = ["/usr/bin/lang", "--version"] }
install = { apt = ["lang"] }
"#;

fn load(files: &[(&str, &str)]) -> Result<Definitions, LoadError> {
    Definitions::from_sources(
        files
            .iter()
            .map(|(name, text)| (PathBuf::from(format!("catalog/{name}")), text.to_string()))
            .collect(),
    )
}

/// The problems reported for `files`, each as "file: field: message".
fn problems(files: &[(&str, &str)]) -> Vec<String> {
    match load(files) {
        Ok(_) => panic!("expected the catalogue to be rejected"),
        Err(LoadError::Invalid(ps)) => ps.iter().map(|p| p.to_string()).collect(),
        Err(other) => panic!("unexpected error {other}"),
    }
}

fn assert_problem(files: &[(&str, &str)], needle: &str) {
    let ps = problems(files);
    assert!(
        ps.iter().any(|p| p.contains(needle)),
        "no problem containing {needle:?} in {ps:#?}"
    );
}

#[test]
fn the_minimal_file_is_valid() {
    let defs = load(&[("lang.toml", GOOD)]).expect("valid");
    assert_eq!(defs.languages.len(), 1);
    assert_eq!(defs.languages[0].id, "lang");
}

#[test]
fn toml_syntax_and_missing_fields_name_the_file() {
    assert_problem(
        &[("broken.toml", "language = ")],
        "catalog/broken.toml: TOML parse error",
    );
    let no_run = GOOD.replace("run = [\"/usr/bin/lang\", \"prog.lg\"]\n", "");
    assert_problem(&[("lang.toml", &no_run)], "missing field `run`");
}

#[test]
fn unknown_keys_are_rejected() {
    let typo = GOOD.replace(
        "display_name = \"Lang\"",
        "display_name = \"Lang\"\ndisplay_nmae = \"x\"",
    );
    assert_problem(&[("lang.toml", &typo)], "unknown field `display_nmae`");
    let typo = GOOD.replace(
        "install = { apt = [\"lang\"] }",
        "install = { aptitude = [\"lang\"] }",
    );
    assert_problem(&[("lang.toml", &typo)], "unknown field `aptitude`");
}

#[test]
fn default_compiler_must_exist() {
    let bad = GOOD.replace(
        "default_compiler = \"lang-1\"",
        "default_compiler = \"lang-9\"",
    );
    assert_problem(
        &[("lang.toml", &bad)],
        "catalog/lang.toml: default_compiler: `lang-9` is not the id of a compiler in this file (ids: lang-1)",
    );
}

#[test]
fn template_must_not_be_empty() {
    let bad = GOOD.replace("template = \"print hello\"", "template = \"  \"");
    assert_problem(
        &[("lang.toml", &bad)],
        "catalog/lang.toml: template: must not be empty",
    );
}

#[test]
fn aliases_must_be_unique_across_languages() {
    let other = GOOD
        .replace("language = \"Lang\"", "language = \"Other\"")
        .replace("extensions = [\"lg\"]", "extensions = [\"ot\"]")
        .replace("lang-1", "other-1")
        .replace("lang-{version}", "other-{version}");
    assert_problem(
        &[("lang.toml", GOOD), ("other.toml", &other)],
        "catalog/other.toml: aliases: `lg` already names the language of catalog/lang.toml",
    );
}

#[test]
fn extensions_and_compiler_ids_must_be_unique_across_languages() {
    let other = GOOD
        .replace("language = \"Lang\"", "language = \"Other\"")
        .replace("aliases = [\"lg\"]", "aliases = []");
    let ps = problems(&[("lang.toml", GOOD), ("other.toml", &other)]);
    assert!(
        ps.iter()
            .any(|p| p.contains("extensions: `lg` is already claimed")),
        "{ps:#?}"
    );
    assert!(
        ps.iter()
            .any(|p| p.contains("compiler[lang-1].id: compiler id `lang-1` is already used")),
        "{ps:#?}"
    );
}

#[test]
fn switch_names_must_be_unique_per_compiler() {
    let dup = format!(
        "{GOOD}\n{}",
        r#"
[[compiler.switch]]
type = "single"
name = "fast"
display_name = "Fast"
flags = ["-O"]

[[compiler.switch]]
type = "select"
name = "level"
options = [
  { name = "fast", display_name = "fast", flags = ["-O3"] },
  { name = "slow", display_name = "slow", flags = ["-O0"] },
]
"#
    );
    assert_problem(
        &[("lang.toml", &dup)],
        "catalog/lang.toml: compiler[lang-1].switch: switch name `fast` is used twice",
    );
}

#[test]
fn select_default_must_be_an_option() {
    let bad = format!(
        "{GOOD}\n{}",
        r#"
[[compiler.switch]]
type = "select"
name = "level"
default = "medium"
options = [{ name = "fast", display_name = "fast", flags = ["-O3"] }]
"#
    );
    assert_problem(
        &[("lang.toml", &bad)],
        "select `level`: default `medium` is not one of its options",
    );
}

#[test]
fn compile_switches_need_a_compile_step() {
    let bad = format!(
        "{GOOD}\n{}",
        r#"
[[compiler.switch]]
type = "single"
name = "opt"
display_name = "opt"
flags = ["-O"]
target = "compile"
"#
    );
    assert_problem(
        &[("lang.toml", &bad)],
        "switch `opt` targets the compile step",
    );
}

#[test]
fn programs_must_be_visible_in_the_sandbox() {
    let bad = GOOD.replace("run = [\"/usr/bin/lang\"", "run = [\"/usr/local/bin/lang\"");
    assert_problem(
        &[("lang.toml", &bad)],
        "/usr/local is not visible inside the sandbox",
    );
    let bad = GOOD.replace("run = [\"/usr/bin/lang\"", "run = [\"lang\"");
    assert_problem(
        &[("lang.toml", &bad)],
        "compiler[lang-1].run: `lang` must be an absolute path",
    );
    let bad = GOOD.replace(
        "run = [\"/usr/bin/lang\"",
        "run = [\"/root/.pyenv/shims/python3\"",
    );
    assert_problem(
        &[("lang.toml", &bad)],
        "`/root/.pyenv/shims/python3` must be an absolute path under",
    );
}

#[test]
fn misspelt_placeholders_are_rejected() {
    let bad = GOOD.replace("\"prog.lg\"]\nversion", "\"{sorce}\"]\nversion");
    assert_problem(&[("lang.toml", &bad)], "unknown placeholder {sorce}");
}

#[test]
fn toolchain_placeholder_needs_an_own_directory() {
    let bad = GOOD.replace(
        "run = [\"/usr/bin/lang\"",
        "run = [\"{toolchain}/bin/lang\"",
    );
    assert_problem(
        &[("lang.toml", &bad)],
        "{toolchain} is used but the compiler has no pip, npm or deb install",
    );
    let good = bad.replace(
        "install = { apt = [\"lang\"] }",
        "install = { pip = { package = \"lang-bin\", version = \"1.0\" } }",
    );
    load(&[("lang.toml", &good)]).expect("pip install gives {toolchain} a directory");
}

#[test]
fn at_most_one_own_directory_installer() {
    let bad = GOOD.replace(
        "install = { apt = [\"lang\"] }",
        "install = { pip = { package = \"a\", version = \"1\" }, npm = { package = \"b\", version = \"2\" } }",
    );
    assert_problem(&[("lang.toml", &bad)], "at most one of pip, npm and deb");
    let bad = GOOD.replace("install = { apt = [\"lang\"] }", "install = {}");
    assert_problem(&[("lang.toml", &bad)], "say how to install the toolchain");
}

#[test]
fn version_regex_must_compile() {
    let bad = GOOD.replace(
        "command = [\"/usr/bin/lang\", \"--version\"] }",
        "command = [\"/usr/bin/lang\", \"--version\"], regex = '(unclosed' }",
    );
    assert_problem(
        &[("lang.toml", &bad)],
        "compiler[lang-1].version.regex: does not compile",
    );
}

#[test]
fn several_problems_are_reported_together() {
    let bad = GOOD
        .replace(
            "default_compiler = \"lang-1\"",
            "default_compiler = \"nope\"",
        )
        .replace("source_file = \"prog.lg\"", "source_file = \"../prog.lg\"");
    let ps = problems(&[("lang.toml", &bad)]);
    assert!(ps.len() >= 2, "{ps:#?}");
}

#[test]
fn an_empty_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Definitions::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, LoadError::Empty(_)), "{err}");
    let err = Definitions::load_dir(&dir.path().join("missing")).unwrap_err();
    assert!(
        err.to_string().contains("cannot read catalogue directory"),
        "{err}"
    );
}

// ---- the real catalogue ----

fn real() -> Definitions {
    Definitions::load_dir(&source_catalog_dir()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_real_catalogue_covers_45_languages_and_80_compilers() {
    let defs = real();
    let languages = defs.languages.len();
    let compilers = defs.compilers().count();
    assert!(languages >= 45, "only {languages} languages");
    assert!(compilers >= 80, "only {compilers} compilers");
}

#[test]
fn the_real_catalogue_has_wandbox_languages_under_wandbox_names() {
    let defs = real();
    let names: BTreeSet<&str> = defs
        .languages
        .iter()
        .map(|l| l.spec.language.as_str())
        .collect();
    for wandbox in [
        "Bash script",
        "C",
        "C#",
        "C++",
        "CPP",
        "Crystal",
        "D",
        "Elixir",
        "Erlang",
        "Go",
        "Groovy",
        "Haskell",
        "Java",
        "JavaScript",
        "Lisp",
        "Lua",
        "Nim",
        "OCaml",
        "OpenSSL",
        "PHP",
        "Pascal",
        "Perl",
        "Python",
        "R",
        "Ruby",
        "Rust",
        "SQL",
        "Scala",
        "TypeScript",
        "Vim script",
        "Zig",
    ] {
        assert!(
            names.contains(wandbox),
            "missing Wandbox language {wandbox}"
        );
    }
}

#[test]
fn every_real_compiler_is_installable_and_has_a_template() {
    for (lang, c) in real().compilers() {
        let i = &c.install;
        assert!(
            !i.apt.is_empty() || i.has_own_dir(),
            "{}: {} has no install method",
            lang.file.display(),
            c.id
        );
        let template = c.template.as_deref().unwrap_or(&lang.spec.template);
        assert!(
            template.contains("Hello, world!") || lang.id == "brainfuck",
            "{}: template",
            c.id
        );
    }
}

#[test]
fn real_pip_and_npm_toolchains_live_under_the_toolchains_root() {
    // The sandbox binds /usr and /opt/codeexec only: nothing may point at pip's or
    // npm's default locations or at the pyenv python of a developer machine.
    for (_, c) in real().compilers() {
        let argvs = c
            .compile
            .iter()
            .flat_map(|s| s.to_vec())
            .chain([c.run.clone(), c.version.command.clone()]);
        for argv in argvs {
            let p = &argv[0];
            assert!(
                p.starts_with("/usr/") && !p.starts_with("/usr/local/")
                    || p.starts_with("/bin/")
                    || p.starts_with("{toolchain}/")
                    || p.starts_with("./"),
                "{}: {p}",
                c.id
            );
        }
    }
}
