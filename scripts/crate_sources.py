"""Where the generator scripts find the sources of crates.io packages they read facts from
(k8s-pb, k8s-openapi): cargo's registry cache, at the version Cargo.lock pins."""

import glob
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def crate_dir(name: str, version: str) -> str:
    """The unpacked source of `name` `version` under $CARGO_HOME/registry/src."""
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    hits = sorted(glob.glob(os.path.join(home, "registry", "src", "*", f"{name}-{version}")))
    if not hits:
        sys.exit(f"error: {name}-{version} is not under {home}/registry/src; fetch it with cargo first")
    return hits[0]


def pinned_version(name: str, default: str) -> str:
    """The version in Cargo.lock if the workspace depends on the crate, else `default`."""
    try:
        lock = open(os.path.join(REPO, "Cargo.lock"), encoding="utf-8").read()
    except OSError:
        return default
    m = re.search(r'name = "%s"\nversion = "([^"]+)"' % re.escape(name), lock)
    return m.group(1) if m else default
