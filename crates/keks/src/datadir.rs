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

    /// The shell `export` lines of the running keks.
    pub fn env_file(&self) -> PathBuf {
        self.root.join("env.sh")
    }
}
