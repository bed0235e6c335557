"""What the generator scripts share: where the sources of the crates.io packages they read
facts from (k8s-pb, k8s-openapi) are (cargo's registry cache, at the version Cargo.lock
pins), and the reading of k8s-openapi's definitions."""

from __future__ import annotations

import glob
import os
import re
import sys
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_or_check(path: str, text: str, check: bool, command: str, repo: str) -> None:
    """Writes a generated file, or with `check` fails if the committed one differs."""
    rel = os.path.relpath(path, repo)
    if check:
        current = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
        if current != text:
            sys.exit(f"error: {rel} is stale; run {command}")
        return
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
    print(f"wrote {rel}", file=sys.stderr)


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


# k8s-openapi's generated sources: JSON names and resource kinds of every definition.
OPENAPI_MODULES = ["v1_35", "v1_34", "v1_36", "v1_37", "v1_33"]


def norm(name: str) -> str:
    """A field name compared loosely: lowercase alphanumerics only (`volumeID` ~ `volume_id`,
    `$ref` ~ `r#ref`)."""
    return re.sub(r"[^a-z0-9]", "", name.lower().removeprefix("r#"))


@dataclass
class OpenApiDef:
    name: str  # the definition's short (Go / proto) type name
    json: dict[str, str]  # norm(name) -> JSON name, from serde field names and Rust names
    api_version: str | None = None
    kind: str | None = None


def parse_k8s_openapi(root: str) -> list[dict[str, OpenApiDef]]:
    """One map per module in OPENAPI_MODULES: lowercased proto full name -> definition."""
    out = []
    for module in OPENAPI_MODULES:
        defs: dict[str, OpenApiDef] = {}
        for path in glob.glob(os.path.join(root, "src", module, "**", "*.rs"), recursive=True):
            text = open(path, encoding="utf-8").read()
            m = re.search(r"^// Generated from definition (\S+)", text, re.M)
            if not m:
                continue
            full = "k8s.io." + m.group(1).removeprefix("io.k8s.").replace("-", "_")
            names: dict[str, str] = {}
            for j, rust in re.findall(r'^\s*"([^"]+)" => Field::Key_(\w+),', text, re.M):
                names.setdefault(norm(j), j)
                names.setdefault(norm(rust), j)
            d = OpenApiDef(full.rsplit(".", 1)[1], names)
            r = re.search(r'const API_VERSION: &\'static str = "([^"]+)";.*?const KIND: &\'static str = "([^"]+)";', text, re.S)
            if r:
                d.api_version, d.kind = r.groups()
            defs[full.lower()] = d
        out.append(defs)
    return out
