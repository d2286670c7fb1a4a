//! One module per subcommand, plus what they share: where the catalogue is and how
//! to load it and the sandbox.

pub mod boxrun;
pub mod doctor;
pub mod keys;
pub mod listing;
pub mod run;
pub mod serve;
pub mod toolchains;

use std::path::PathBuf;

use anyhow::Context as _;
use codeexec_catalog::{Catalog, Definitions, DetectOptions};
use codeexec_sandbox::{Sandbox, SandboxConfig};

/// Settings every subcommand may need.
pub struct Context {
    pub catalog_dir: PathBuf,
    pub detect: DetectOptions,
}

impl Context {
    pub fn new(catalog: Option<PathBuf>, toolchains: Option<PathBuf>) -> Context {
        let mut detect = DetectOptions::default();
        if let Some(root) = toolchains {
            detect.toolchains_root = root;
        }
        Context {
            catalog_dir: catalog.unwrap_or_else(codeexec_catalog::source_catalog_dir),
            detect,
        }
    }

    pub fn definitions(&self) -> anyhow::Result<Definitions> {
        Definitions::load_dir(&self.catalog_dir)
            .with_context(|| format!("loading the catalogue {}", self.catalog_dir.display()))
    }

    /// The catalogue with installed versions detected.
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        Ok(Catalog::detect(&self.definitions()?, &self.detect))
    }

    /// The sandbox, with the host paths the catalogue's toolchains need.
    pub fn sandbox(&self, catalog: &Catalog, self_test: bool) -> anyhow::Result<Sandbox> {
        let mut config = SandboxConfig {
            self_test,
            ..SandboxConfig::default()
        };
        if !config
            .read_only_paths
            .contains(&self.detect.toolchains_root)
        {
            config
                .read_only_paths
                .push(self.detect.toolchains_root.clone());
        }
        let config = codeexec_engine::sandbox_config_for(catalog, config);
        Ok(Sandbox::new(config)?)
    }
}
