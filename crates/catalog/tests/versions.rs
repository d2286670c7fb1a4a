//! Version parsing against real outputs: `version-samples.toml` holds what each
//! compiler's version command printed on a machine where it was installed (captured by
//! `scripts/toolchains/capture-version-samples.py`) and the version detection found.
//! Each catalogue rule must still extract that version, and every compiler of the
//! catalogue must have a sample, so a new compiler cannot arrive with an untested rule.

use std::collections::BTreeMap;

use codeexec_catalog::version::{is_name_safe, VersionExtractor};
use codeexec_catalog::{source_catalog_dir, Definitions};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Sample {
    command: String,
    output: String,
    version: String,
}

fn samples() -> BTreeMap<String, Sample> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/version-samples.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn defs() -> Definitions {
    Definitions::load_dir(&source_catalog_dir()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_rule_extracts_the_recorded_version_from_real_output() {
    let samples = samples();
    let mut checked = 0;
    for (_, c) in defs().compilers() {
        let Some(sample) = samples.get(&c.id) else {
            continue;
        };
        let rule = VersionExtractor::new(c.version.regex.as_deref(), c.version.format.as_deref())
            .unwrap_or_else(|e| panic!("{}: {e}", c.id));
        assert_eq!(
            rule.extract(&sample.output).as_deref(),
            Some(sample.version.as_str()),
            "{}: `{}` printed {:?}",
            c.id,
            sample.command,
            sample.output
        );
        assert!(
            is_name_safe(&sample.version),
            "{}: {}",
            c.id,
            sample.version
        );
        checked += 1;
    }
    assert!(checked >= 80, "only {checked} samples checked");
}

#[test]
fn every_compiler_has_a_sample_and_every_sample_a_compiler() {
    let samples = samples();
    let defs = defs();
    let ids: Vec<&str> = defs.compilers().map(|(_, c)| c.id.as_str()).collect();
    let missing: Vec<&&str> = ids
        .iter()
        .filter(|id| !samples.contains_key(**id))
        .collect();
    assert!(
        missing.is_empty(),
        "no version sample for {missing:?}: install them and run scripts/toolchains/capture-version-samples.py"
    );
    let stale: Vec<&String> = samples
        .keys()
        .filter(|k| !ids.contains(&k.as_str()))
        .collect();
    assert!(
        stale.is_empty(),
        "samples of compilers no longer in the catalogue: {stale:?}"
    );
}

#[test]
fn rules_do_not_match_unrelated_output() {
    // The failure output that once fooled the default rule: a path with a version-like
    // number in it. Rules with a literal anchor must not find a version there.
    let noise = "Error: Cannot find module '/opt/codeexec/toolchains/typescript-5.9/node_modules/typescript/bin/tsc'";
    let mut anchored = 0;
    for (_, c) in defs().compilers() {
        let Some(regex) = c.version.regex.as_deref() else {
            continue;
        };
        if !regex.chars().any(|ch| ch.is_ascii_alphabetic()) || regex.starts_with('^') {
            continue;
        }
        let rule = VersionExtractor::new(Some(regex), c.version.format.as_deref()).unwrap();
        assert_eq!(rule.extract(noise), None, "{}: {regex}", c.id);
        anchored += 1;
    }
    assert!(anchored > 40, "{anchored}");
}
