#!/usr/bin/env python3
"""Generates keks' strategic-merge-patch table.

Output: crates/keks-apiserver/src/patch/merge_keys.rs, the facts apimachinery's
`strategicpatch` package reads from Go struct tags (`patchStrategy:"merge"
patchMergeKey:"name"`), for every type reachable from a built-in kind: each field whose JSON
value is an object or an array, with the shape of that value (struct, list, map) and the type it
leads to, so a merge can walk from an object's kind down to any nested field.

Sources, all read from disk (nothing is downloaded):

* k8s-pb (crates.io, prost-generated structs of Kubernetes' generated.proto files): the types,
  their fields and field types, and the `+patchStrategy=` / `+patchMergeKey=` markers in the
  doc comments, which Kubernetes keeps identical to the struct tags (checked: see --verify-go).
* k8s-openapi (crates.io): the JSON name of every field (its serde field names), which fields
  are embedded (`json:",inline"`: a k8s-pb message field with no JSON name whose fields all
  are the parent's), and the (group, version, kind) of every resource (its `impl Resource`).

Usage (from the repository root):

    python3 scripts/gen-smp-table.py              # regenerate merge_keys.rs
    python3 scripts/gen-smp-table.py --check      # fail if merge_keys.rs is stale
    python3 scripts/gen-smp-table.py --verify-go DIR
        # also compare the markers with the Go struct tags of checkouts of k8s.io/api,
        # k8s.io/apimachinery and k8s.io/apiextensions-apiserver at the release k8s-pb was
        # generated from (DIR/api, DIR/apimachinery, DIR/apiextensions-apiserver)

The crates are found under $CARGO_HOME/registry/src (default ~/.cargo); `cargo fetch` puts
them there. Versions are pinned below (or taken from Cargo.lock when the workspace uses them).
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import sys
from dataclasses import dataclass, field

from crate_sources import (OPENAPI_MODULES, OpenApiDef, crate_dir, norm, parse_k8s_openapi, pinned_version,
                           write_or_check)

K8S_PB_VERSION = "0.9.0"
K8S_OPENAPI_VERSION = "0.29.0"
KUBE_VERSION = "1.35"
# k8s-openapi modules, searched in order for definitions and kinds.

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "crates", "keks-apiserver", "src", "patch", "merge_keys.rs")
COMMAND = "python3 scripts/gen-smp-table.py"

META = "k8s.io.apimachinery.pkg.apis.meta.v1"
APIEXT = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions"
# Types whose JSON is a string or a number: never merged into, so not in the table.
SCALAR_TYPES = {
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
    "k8s.io.apimachinery.pkg.api.resource.Quantity",
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue",
    f"{META}.Time",
    f"{META}.MicroTime",
    f"{META}.Duration",
}
# Types whose JSON is free-form: Go structs whose fields have no JSON names, so apimachinery
# finds no field in them (merging two objects inside one fails). Emitted as `Opaque("Name")`
# with their Go names (prost renames `JSON` to `Json`).
OPAQUE_TYPES = [f"{META}.FieldsV1", "k8s.io.apimachinery.pkg.runtime.RawExtension", "k8s.io.apimachinery.pkg.runtime.Unknown"]
for _v in ("v1", "v1beta1"):
    OPAQUE_TYPES += [f"{APIEXT}.{_v}.{n}" for n in ("JSON", "JSONSchemaPropsOrArray", "JSONSchemaPropsOrBool", "JSONSchemaPropsOrStringArray")]
SCALAR = {t.lower() for t in SCALAR_TYPES}
OPAQUE = {t.lower(): t.rsplit(".", 1)[1] for t in OPAQUE_TYPES}




def lower_camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)






# ---------------------------------------------------------------------------------------------
# k8s-pb: types, fields, markers
# ---------------------------------------------------------------------------------------------


@dataclass
class PbField:
    rust: str  # snake_case, without r#
    card: str  # One | Rep | Map
    scalar: bool  # the (value) type is a protobuf scalar
    ref: str | None  # full name of the message (value) type
    strategy: str = ""
    merge_key: str = ""
    # Server-side apply markers: `+listType=`, `+listMapKey=` (repeated), `+mapType=`.
    list_type: str = ""
    list_map_keys: list[str] = field(default_factory=list)
    map_type: str = ""


@dataclass
class PbMessage:
    full: str  # k8s.io.api.core.v1.PodSpec
    fields: list[PbField] = field(default_factory=list)
    # `+structType=atomic` / `+mapType=atomic` on the type: owned as a whole by server-side apply.
    atomic: bool = False

    @property
    def name(self) -> str:
        return self.full.rsplit(".", 1)[1]


def resolve_path(module: list[str], path: str) -> str:
    parts = path.split("::")
    mod = list(module)
    if parts[0] == "crate":
        mod, parts = [], parts[1:]
    while parts and parts[0] in ("super", "self"):
        if parts.pop(0) == "super":
            mod.pop()
    return "k8s.io." + ".".join(mod + parts[:-1]) + "." + parts[-1]


WRAPPERS = re.compile(r"::core::option::Option<|::prost::alloc::vec::Vec<|::prost::alloc::boxed::Box<|"
                      r"::prost::alloc::collections::BTreeMap<::prost::alloc::string::String,|[<>,]")


def parse_k8s_pb(root: str) -> dict[str, PbMessage]:
    """Lowercased full name -> message."""
    messages: dict[str, PbMessage] = {}
    for path in sorted(glob.glob(os.path.join(root, "src", "**", "mod.rs"), recursive=True)):
        module = os.path.relpath(os.path.dirname(path), os.path.join(root, "src")).split(os.sep)
        package = "k8s.io." + ".".join(module)
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r"^pub struct (\w+) \{(?:\}|\n(.*?)^\})", text, re.S | re.M):
            msg = PbMessage(f"{package}.{m.group(1)}")
            head = text[: m.start()].splitlines()
            while head and (head[-1].startswith("///") or head[-1].startswith("#[")):
                if head[-1].startswith("///") and head[-1][3:].strip() in ("+structType=atomic", "+mapType=atomic"):
                    msg.atomic = True
                head.pop()
            docs: list[str] = []
            lines = (m.group(2) or "").splitlines()
            i = 0
            while i < len(lines):
                line = lines[i].strip()
                i += 1
                if line.startswith("///"):
                    docs.append(line[3:].strip())
                    continue
                if not line.startswith("#[prost("):
                    docs = []
                    continue
                attr = line
                decl = ""
                while i < len(lines):
                    decl += lines[i].strip()
                    i += 1
                    if decl.endswith(",") and decl.count("<") == decl.count(">"):
                        break
                d = re.match(r"pub\s+(?:r#)?(\w+)\s*:\s*(.*),$", decl)
                if not d:
                    sys.exit(f"error: cannot parse field of {msg.full}: {decl!r}")
                name, ty = d.groups()
                if "btree_map" in attr:
                    value = re.search(r'btree_map = "\w+, (\w+)"', attr).group(1)
                    card, scalar = "Map", value != "message"
                else:
                    first = attr.removeprefix("#[prost(").split(",")[0].split("=")[0].strip()
                    card, scalar = ("Rep" if " repeated" in attr else "One"), first != "message"
                target = WRAPPERS.sub("", re.sub(r"\s", "", ty))
                f = PbField(name, card, scalar, None if scalar else resolve_path(module, target))
                for doc in docs:
                    if doc.startswith("+patchStrategy="):
                        f.strategy = doc.split("=", 1)[1].strip()
                    elif doc.startswith("+patchMergeKey="):
                        f.merge_key = doc.split("=", 1)[1].strip()
                    elif doc.startswith("+listType="):
                        f.list_type = doc.split("=", 1)[1].strip()
                    elif doc.startswith("+listMapKey="):
                        f.list_map_keys.append(doc.split("=", 1)[1].strip())
                    elif doc.startswith("+mapType="):
                        f.map_type = doc.split("=", 1)[1].strip()
                docs = []
                msg.fields.append(f)
            if len(msg.fields) != (m.group(2) or "").count("#[prost("):
                sys.exit(f"error: could not parse every field of {msg.full}")
            messages[msg.full.lower()] = msg
    return messages


# ---------------------------------------------------------------------------------------------
# k8s-openapi: JSON names and kinds
# ---------------------------------------------------------------------------------------------




# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------


@dataclass
class OutField:
    json: str
    shape: str  # a Rust `Ty` expression; type indices are resolved at render time
    strategy: str
    merge_key: str
    ssa: str = ""  # "atomic", "set", "map=k1,k2", "granular": x-kubernetes-list-type / map-type


def ssa_marker(f: PbField) -> str:
    if f.list_type == "map":
        return "map=" + ",".join(f.list_map_keys)
    return f.list_type or f.map_type


class Builder:
    def __init__(self, messages, openapi):
        self.messages = messages
        self.openapi = openapi
        self.order: list[str] = []  # lowercased full names, emission order
        self.types: dict[str, tuple[str, str, list[OutField]]] = {}  # key -> (full, Go name, fields)
        self.problems: list[str] = []
        self.inlined: list[str] = []
        self.atomic: set[str] = set()  # keys of `+structType=atomic` types

    def defs(self, key: str) -> list[OpenApiDef]:
        return [d[key] for d in self.openapi if key in d]

    def is_array(self, msg: PbMessage) -> bool:
        """A Go named slice (`type ExtraValue []string`): its JSON is the array."""
        return (not self.defs(msg.full.lower()) and len(msg.fields) == 1 and msg.fields[0].rust == "items"
                and msg.fields[0].card == "Rep" and not msg.name.endswith("List"))

    def classify(self, ref: str) -> str:
        """Scalar | Opaque | Array | Plain"""
        if ref.lower() in SCALAR:
            return "Scalar"
        if ref.lower() in OPAQUE:
            return "Opaque"
        msg = self.messages.get(ref.lower())
        if msg is None:
            sys.exit(f"error: unknown message {ref}")
        return "Array" if self.is_array(msg) else "Plain"

    def type_ref(self, ref: str) -> str:
        key = ref.lower()
        if key not in self.types:
            defs = self.defs(key)
            name = OPAQUE.get(key) or (defs[0].name if defs else ref.rsplit(".", 1)[1])
            full = ref.rsplit(".", 1)[0] + "." + name
            self.types[key] = (full, name, [])  # placeholder against cycles
            self.order.append(key)
            self.types[key] = (full, name, self.fields_of(self.messages[key], defs))
            if self.messages[key].atomic:
                self.atomic.add(key)
        return f"@{key}@"

    def fields_of(self, msg: PbMessage, defs: list[OpenApiDef]) -> list[OutField]:
        out: list[OutField] = []
        for f in msg.fields:
            json = next((d.json[norm(f.rust)] for d in defs if norm(f.rust) in d.json), None)
            if json is None and not f.scalar and f.card == "One" and self.classify(f.ref) == "Plain":
                inner = self.messages[f.ref.lower()]
                if defs and self.covers(inner, defs):
                    # An embedded struct (`json:",inline"`): its fields are the parent's in JSON.
                    self.inlined.append(f"{msg.full}.{f.rust} ({inner.name})")
                    out += self.fields_of(inner, defs)
                    continue
            if json is None:
                json = lower_camel(f.rust)
                if defs:
                    self.problems.append(f"{msg.full}.{f.rust}: no JSON name in k8s-openapi, using {json!r}")
            shape = self.shape(f, f"{msg.full}.{json}")
            if shape is not None:
                out.append(OutField(json, shape, f.strategy, f.merge_key, ssa_marker(f)))
            elif f.strategy or f.merge_key:
                self.problems.append(f"{msg.full}.{json}: patch markers on a scalar field")
        return out

    def covers(self, msg: PbMessage, defs: list[OpenApiDef]) -> bool:
        """Whether every field of `msg` has a JSON name in `defs`, directly or by embedding."""
        for g in msg.fields:
            if any(norm(g.rust) in d.json for d in defs):
                continue
            if g.scalar or g.card != "One" or self.classify(g.ref) != "Plain":
                return False
            if not self.covers(self.messages[g.ref.lower()], defs):
                return False
        return True

    def elem(self, scalar: bool, ref: str | None, where: str) -> str:
        """The Rust `Ty` of a list element or map value."""
        if scalar:
            return "Scalar"
        kind = self.classify(ref)
        if kind == "Scalar":
            return "Scalar"
        if kind == "Array":
            return "List(&Scalar)"
        if kind == "Opaque":
            return f'Opaque("{OPAQUE.get(ref.lower(), ref.rsplit(".", 1)[1])}")'
        return f"Struct({self.type_ref(ref)})"

    def shape(self, f: PbField, where: str) -> str | None:
        if f.card == "Map":
            return f"Map(&{self.elem(f.scalar, f.ref, where)})"
        if f.card == "Rep":
            e = self.elem(f.scalar, f.ref, where)
            if e.startswith("List"):
                self.problems.append(f"{where}: a list of lists")
                return None
            return f"List(&{e})"
        if f.scalar:
            return None
        kind = self.classify(f.ref)
        if kind == "Scalar":
            return None
        if kind == "Array":
            return "List(&Scalar)"
        if kind == "Opaque":
            return f'Opaque("{OPAQUE.get(f.ref.lower(), f.ref.rsplit(".", 1)[1])}")'
        return f"Struct({self.type_ref(f.ref)})"


def kinds(builder: Builder) -> dict[tuple[str, str, str], str]:
    """(group, version, kind) -> root type marker."""
    table: dict[tuple[str, str, str], str] = {}
    for defs in builder.openapi:  # first module wins
        for key, d in sorted(defs.items()):
            if not d.kind or key not in builder.messages:
                continue
            group, _, version = d.api_version.rpartition("/")
            gvk = (group, version, d.kind)
            if gvk not in table:
                table[gvk] = builder.type_ref(builder.messages[key].full)
    return table


def render(builder: Builder, table, pb_dir: str, openapi_dir: str) -> str:
    index = {key: i for i, key in enumerate(builder.order)}

    def resolve(s: str) -> str:
        return re.sub(r"@([^@]+)@", lambda m: str(index[m.group(1)]), s)

    lines = [
        "//! Merge facts of every built-in type: Go's `patchStrategy` / `patchMergeKey` struct tags,",
        "//! the `+listType` / `+listMapKey` / `+mapType` / `+structType` markers server-side apply",
        "//! reads, and the JSON shape of each object- or array-valued field. @generated by",
        f"//! `{COMMAND}` from k8s-pb {os.path.basename(pb_dir).removeprefix('k8s-pb-')} (Kubernetes {KUBE_VERSION}: "
        f"types, markers) and k8s-openapi {os.path.basename(openapi_dir).removeprefix('k8s-openapi-')}",
        f"//! (JSON names, kinds; modules {', '.join(OPENAPI_MODULES)}). Do not edit by hand.",
        "",
        "use super::schema::{f, Ty::*, TypeDef};",
        "",
        f"pub(super) static TYPES: [TypeDef; {len(builder.order)}] = [",
    ]
    for i, key in enumerate(builder.order):
        full, name, fields = builder.types[key]
        package = full.rsplit(".", 1)[0].removeprefix("k8s.io.").replace("_", "-")
        atomic = "true" if key in builder.atomic else "false"
        head = f'TypeDef {{ name: "{name}", definition: "io.k8s.{package}.{name}", atomic: {atomic}, fields: &['
        lines.append(f"    // {i}")
        if not fields:
            lines.append(f"    {head}] }},")
            continue
        lines.append(f"    {head}")
        for fl in fields:
            lines.append(f'        f("{fl.json}", {resolve(fl.shape)}, "{fl.strategy}", "{fl.merge_key}", "{fl.ssa}"),')
        lines.append("    ] },")
    lines.append("];")
    lines.append("")
    lines.append("/// (group, version, kind) -> index of the kind's type in `TYPES`, sorted.")
    lines.append(f"pub(super) static KINDS: [(&str, &str, &str, u16); {len(table)}] = [")
    for (group, version, kind), marker in sorted(table.items()):
        lines.append(f'    ("{group}", "{version}", "{kind}", {resolve(marker)}),')
    lines.append("];")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Verification against Go struct tags
# ---------------------------------------------------------------------------------------------

GO_REPOS = {"api": "k8s.io.api", "apimachinery": "k8s.io.apimachinery", "apiextensions-apiserver": "k8s.io.apiextensions_apiserver"}


def verify_go(go_src: str, messages: dict[str, PbMessage]) -> list[str]:
    """Differences between the Go struct tags and the k8s-pb markers, field by field."""
    go: dict[tuple[str, str], tuple[str, str]] = {}
    for repo, prefix in GO_REPOS.items():
        base = os.path.join(go_src, repo)
        if not os.path.isdir(base):
            sys.exit(f"error: {base} is missing")
        for path in glob.glob(os.path.join(base, "**", "*.go"), recursive=True):
            if path.endswith("_test.go") or "/testdata/" in path or "/testapigroup/" in path:
                continue
            package = prefix + "." + os.path.relpath(os.path.dirname(path), base).replace(os.sep, ".").replace("-", "_")
            text = open(path, encoding="utf-8").read()
            for m in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", text, re.S | re.M):
                for line in m.group(2).splitlines():
                    if line.strip().startswith("//"):
                        continue
                    tags = dict(re.findall(r'(\w+):"([^"]*)"', line))
                    if "protobuf" not in tags or not ("patchStrategy" in tags or "patchMergeKey" in tags):
                        continue
                    proto_name = re.search(r"name=(\w+)", tags["protobuf"]).group(1)
                    go[(f"{package}.{m.group(1)}".lower(), norm(proto_name))] = (tags.get("patchStrategy", ""), tags.get("patchMergeKey", ""))
    pb: dict[tuple[str, str], tuple[str, str]] = {}
    for key, msg in messages.items():
        if not key.startswith(tuple(p.lower() + "." for p in GO_REPOS.values())) or ".testapigroup." in key:
            continue
        for f in msg.fields:
            if f.strategy or f.merge_key:
                pb[(key, norm(f.rust))] = (f.strategy, f.merge_key)
    diffs = []
    for k in sorted(set(go) | set(pb)):
        if go.get(k) != pb.get(k):
            diffs.append(f"{k[0]}.{k[1]}: Go tags {go.get(k)}, k8s-pb markers {pb.get(k)}")
    print(f"verified {len(go)} Go struct tags against {len(pb)} k8s-pb markers: {len(diffs)} differences", file=sys.stderr)
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if the output is not up to date")
    ap.add_argument("--verify-go", metavar="DIR", help="compare the markers with Go struct tags of checkouts in DIR")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the embedded structs found")
    args = ap.parse_args()

    pb_dir = crate_dir("k8s-pb", pinned_version("k8s-pb", K8S_PB_VERSION))
    openapi_dir = crate_dir("k8s-openapi", pinned_version("k8s-openapi", K8S_OPENAPI_VERSION))
    messages = parse_k8s_pb(pb_dir)
    builder = Builder(messages, parse_k8s_openapi(openapi_dir))
    table = kinds(builder)
    for p in builder.problems:
        print(f"warning: {p}", file=sys.stderr)
    if args.verbose:
        for i in builder.inlined:
            print(f"inline: {i}", file=sys.stderr)
    n_fields = sum(len(t[2]) for t in builder.types.values())
    print(f"{len(builder.order)} types, {n_fields} object/array fields, {len(table)} kinds, "
          f"{len(builder.problems)} problems", file=sys.stderr)
    if args.verify_go:
        diffs = verify_go(args.verify_go, messages)
        for d in diffs:
            print(f"difference: {d}", file=sys.stderr)
        if diffs:
            sys.exit(1)
    text = render(builder, table, pb_dir, openapi_dir)
    write_or_check(OUT, text, args.check, COMMAND, REPO)


if __name__ == "__main__":
    main()
