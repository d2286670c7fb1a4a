//! The language catalogue of codeexec.
//!
//! Languages and compilers are data: one TOML file per language in `catalog/`
//! ([`model`] describes the schema). At start-up the service loads and validates the
//! files ([`Definitions::load_dir`]), then runs every compiler's version command
//! ([`Catalog::detect`]): a compiler is offered only when its toolchain answers, and its
//! public name is its name template with the detected version filled in
//! (`gcc-{version}` → `gcc-12.2.0`), so names follow what is really installed. A request
//! is turned into a [`Recipe`] by [`Catalog::resolve`]. The [`install`] module installs
//! toolchains from Debian, PyPI and npm.

#![forbid(unsafe_code)]

pub mod catalog;
pub mod detect;
pub mod exec;
pub mod expand;
pub mod install;
pub mod limits;
pub mod load;
pub mod model;
pub mod resolve;
pub mod suggest;
pub mod version;
pub mod view;

pub use catalog::{Catalog, Compiler, Language, Switch, Unavailable};
pub use detect::{DetectOptions, DEFAULT_TOOLCHAINS_ROOT};
pub use limits::Limits;
pub use load::{Definitions, LoadError, Problem};
pub use resolve::{split_raw, RawKind, Recipe, ResolveError};
pub use view::{CompilerInfo, LanguageInfo, SwitchInfo};

/// The catalogue directory of this source tree (`<workspace>/catalog`), for tests and
/// for running from a checkout.
pub fn source_catalog_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog");
    dir.canonicalize().unwrap_or(dir)
}
