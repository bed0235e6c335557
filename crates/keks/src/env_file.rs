//! `DIR/env.sh`: the shell `export` lines for every endpoint and credential the running keks
//! serves, written once it listens and removed when it stops cleanly.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::datadir::DataDir;

/// One exported variable.
pub struct EnvVar {
    pub name: &'static str,
    pub value: String,
}

/// Renders variables as `export NAME='value'` lines, quoted for POSIX shells.
pub fn render(vars: &[EnvVar]) -> String {
    let mut out = String::from("# Written by keks up; `source` this file to use this keks.\n");
    for var in vars {
        let quoted = var.value.replace('\'', r"'\''");
        let _ = writeln!(out, "export {}='{}'", var.name, quoted);
    }
    out
}

/// Writes env.sh atomically (temporary file, then rename), readable by the owner only since
/// it will hold credentials.
pub fn write(dir: &DataDir, vars: &[EnvVar]) -> anyhow::Result<()> {
    let path = dir.env_file();
    let tmp = path.with_extension("sh.tmp");
    std::fs::write(&tmp, render(vars)).with_context(|| format!("writing {}", tmp.display()))?;
    restrict_to_owner(&tmp)?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(unix)]
pub fn restrict_to_owner(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))
}

#[cfg(not(unix))]
pub fn restrict_to_owner(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// Removes env.sh when keks stops cleanly.
pub fn remove(dir: &DataDir) {
    let _ = std::fs::remove_file(dir.env_file());
}

/// `keks env`: prints the env.sh of the keks running on `root`.
pub fn print(root: &Path) -> anyhow::Result<()> {
    print!("{}", read_text(root)?);
    Ok(())
}

/// The variables of the running keks' env.sh.
pub fn read(dir: &DataDir) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let text = read_text(dir.root())?;
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').replace(r"'\''", "'")))
        .collect())
}

fn read_text(root: &Path) -> anyhow::Result<String> {
    let path = DataDir::new(root).env_file();
    std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!(
            "no keks is running with data dir {} ({} does not exist); start one with `keks up --data-dir {}`",
            root.display(),
            path.display(),
            root.display()
        ),
        _ => anyhow::Error::new(e).context(format!("reading {}", path.display())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_single_quotes() {
        let text = render(&[EnvVar {
            name: "X",
            value: "it's".into(),
        }]);
        assert!(text.contains(r"export X='it'\''s'"));
    }
}
