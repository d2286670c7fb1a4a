//! Errors of the sandbox library. Start-up problems are one clear sentence with a fix;
//! run-time problems name the step that failed.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while creating, using or destroying boxes.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The host cannot sandbox at all: reported once, at start-up.
    #[error("this host cannot run the sandbox: {what}. Fix: {fix}")]
    Unsupported { what: String, fix: String },

    /// A host-side system call failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    /// The boxed child could not set up its isolation (before any untrusted code ran).
    #[error("sandbox setup failed at step `{step}`: {source}")]
    Setup {
        step: &'static str,
        #[source]
        source: io::Error,
    },

    /// The program to run could not be executed inside the box.
    #[error("cannot execute `{program}` inside the box: {source}")]
    Exec {
        program: String,
        #[source]
        source: io::Error,
    },

    /// A path given for staging or as a working directory is not acceptable.
    #[error("invalid path `{path}`: {reason}")]
    InvalidPath { path: PathBuf, reason: &'static str },

    /// Files may only be staged before the first run, while no untrusted code has
    /// touched the box (see the module docs of `boxfs`).
    #[error("files can only be staged into a box before its first run")]
    StagingAfterRun,

    /// An argument, environment entry or path contains a NUL byte.
    #[error("{what} contains a NUL byte")]
    NulByte { what: &'static str },

    /// The run was cancelled through its [`RunControl`](crate::RunControl); all
    /// of its processes are dead.
    #[error("the run was cancelled")]
    Cancelled,

    /// A run request is unusable (empty argv, zero limit, …).
    #[error("invalid run request: {0}")]
    InvalidRequest(String),
}

impl SandboxError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        SandboxError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn last_os(context: impl Into<String>) -> Self {
        Self::io(context, io::Error::last_os_error())
    }
}

pub type Result<T, E = SandboxError> = std::result::Result<T, E>;
