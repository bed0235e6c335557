//! The data directory's layout: one place that names every file and folder keks keeps.

use std::path::{Path, PathBuf};

/// Paths inside one data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The embedded store's directory.
    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    /// The Kubernetes API listener's CA and serving certificate.
    pub fn pki(&self) -> PathBuf {
        self.root.join("pki")
    }

    /// The token the keks CLI presents to keks' admin endpoints.
    pub fn admin_token(&self) -> PathBuf {
        self.root.join("admin-token")
    }

    /// The shell `export` lines of the running keks.
    pub fn env_file(&self) -> PathBuf {
        self.root.join("env.sh")
    }
}
