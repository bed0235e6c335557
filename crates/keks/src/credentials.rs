//! Credentials keks generates for local use: made once per data directory, kept there
//! (owner-only), and printed in env.sh. Never built in.

use std::path::Path;

use anyhow::Context;
use rand::RngCore;

/// Reads the secret in `path`, generating 32 random bytes (hex) the first time.
pub fn load_or_generate(path: &Path) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_string();
        if !existing.is_empty() {
            return Ok(existing);
        }
    }
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(path, &secret).with_context(|| format!("writing {}", path.display()))?;
    crate::env_file::restrict_to_owner(path)?;
    Ok(secret)
}
