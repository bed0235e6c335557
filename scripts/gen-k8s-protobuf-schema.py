#!/usr/bin/env python3
"""Generates keks' Kubernetes protobuf schema table.

Output: crates/keks-apiserver/src/protobuf/schema_table.rs, a compact Rust table of every
Kubernetes protobuf message (full name, fields: tag, JSON name, kind, cardinality, presence)
and the (apiVersion, kind) -> message map that `keks_apiserver::protobuf` decodes and
encodes with.

Sources, all read from disk (nothing is downloaded):

* k8s-pb (crates.io, prost-generated structs for every message of Kubernetes' generated.proto
  files): message names, field tags, wire kinds, repeated / map cardinality, message refs.
* k8s-openapi (crates.io): the JSON name of every field (its serde field names) and the
  (apiVersion, kind) of every resource (its `impl Resource` blocks).
* go-types.tsv beside the output: facts from Kubernetes' Go types. One line per field (message,
  tag, JSON name, and whether the Go field is a pointer, has `omitempty`, or is an embedded
  `json:",inline"` struct) and one per registered kind (apiVersion, kind, message). Go's protobuf
  marshaller writes every non-pointer field even when it is zero, so a decoder must know which
  zero scalars to drop (value + omitempty) and which to keep (pointers: `replicas: 0`,
  `gracePeriodSeconds: 0`, `automountServiceAccountToken: false`); inline structs are separate
  messages on the wire but flattened in JSON (`Volume.volumeSource`, `Probe.handler`). Go's
  `register.go` files name every kind of every group version, options kinds and beta versions
  included, which k8s-openapi does not. That file is refreshed with `--go-src DIR`, DIR holding checkouts of k8s.io/api, k8s.io/apimachinery,
  k8s.io/apiextensions-apiserver and k8s.io/kube-aggregator (as DIR/api, DIR/apimachinery,
  DIR/apiextensions-apiserver, DIR/kube-aggregator) at the Kubernetes release k8s-pb was
  generated from.

Usage (from the repository root):

    python3 scripts/gen-k8s-protobuf-schema.py            # regenerate schema_table.rs
    python3 scripts/gen-k8s-protobuf-schema.py --check    # fail if schema_table.rs is stale
    python3 scripts/gen-k8s-protobuf-schema.py --go-src /tmp/k8s-go --go-ref v0.35.0   # also refresh go-types.tsv

The crates are found under $CARGO_HOME/registry/src (default ~/.cargo); `cargo fetch` of a
crate that depends on them, or `cargo download`, puts them there. Versions are pinned below.
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
# Kubernetes release that k8s-pb 0.9.0 was generated from, and the k8s-openapi module for it
# (searched first; the other modules fill in definitions it lacks).
KUBE_VERSION = "1.35"

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "crates", "keks-apiserver", "src", "protobuf")
OUT_TABLE = os.path.join(OUT_DIR, "schema_table.rs")
GO_TYPES = os.path.join(OUT_DIR, "go-types.tsv")
COMMAND = "python3 scripts/gen-k8s-protobuf-schema.py"

META = "k8s.io.apimachinery.pkg.apis.meta.v1"
RUNTIME = "k8s.io.apimachinery.pkg.runtime"
APIEXT = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions"

# Messages whose JSON form is not an object of their fields.
SPECIAL = {
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue": "Quantity",
    f"{META}.Time": "Time",
    f"{META}.MicroTime": "MicroTime",
    f"{META}.Duration": "Duration",
    f"{META}.FieldsV1": "RawJson",
    f"{RUNTIME}.RawExtension": "RawExtension",
    f"{RUNTIME}.Unknown": "Unknown",
}
for _v in ("v1", "v1beta1"):
    SPECIAL[f"{APIEXT}.{_v}.JSON"] = "RawJson"
    SPECIAL[f"{APIEXT}.{_v}.JSONSchemaPropsOrArray"] = "SchemaOrArray"
    SPECIAL[f"{APIEXT}.{_v}.JSONSchemaPropsOrBool"] = "SchemaOrBool"
    SPECIAL[f"{APIEXT}.{_v}.JSONSchemaPropsOrStringArray"] = "SchemaOrStringArray"

# meta/v1 kinds that every group version serves (client-go encodes DeleteOptions with the
# group version of the request, e.g. apps/v1).
META_KINDS = [
    "APIGroup", "APIGroupList", "APIResourceList", "APIVersions", "CreateOptions",
    "DeleteOptions", "GetOptions", "List", "ListOptions", "PartialObjectMetadata",
    "PartialObjectMetadataList", "PatchOptions", "Status", "UpdateOptions", "WatchEvent",
]

SCALARS = {"string": "Str", "bool": "Bool", "int32": "I32", "int64": "I64", "double": "F64", "bytes": "Bytes"}




def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Locating the crates
# ---------------------------------------------------------------------------------------------






# ---------------------------------------------------------------------------------------------
# k8s-pb: prost structs
# ---------------------------------------------------------------------------------------------


@dataclass
class PbField:
    tag: int
    rust: str  # prost field name, snake_case, without r#
    kind: str  # Str Bool I32 I64 F64 Bytes Msg
    card: str  # One Rep Map
    msg: str | None = None  # full name of the message (value) type
    json: str | None = None
    emit: str = "Always"  # Always | NonZero | Inline (see schema.rs)


@dataclass
class PbMessage:
    package: str
    rust_name: str
    fields: list[PbField] = field(default_factory=list)
    name: str = ""  # canonical (proto) name
    special: str = "Plain"

    @property
    def full(self) -> str:
        return f"{self.package}.{self.name or self.rust_name}"


FIELD_RE = re.compile(r"#\[prost\((?P<attr>[^\]]*)\)\]\s*pub\s+(?:r#)?(?P<name>\w+)\s*:\s*(?P<ty>.*?),\s*(?=#\[prost|$)", re.S)
WRAPPERS = re.compile(r"::core::option::Option<|::prost::alloc::vec::Vec<|::prost::alloc::boxed::Box<|"
                      r"::prost::alloc::collections::BTreeMap<::prost::alloc::string::String,|[<>,]")


def resolve_path(module: list[str], path: str) -> str:
    parts = path.split("::")
    mod = list(module)
    if parts[0] == "crate":
        mod, parts = [], parts[1:]
    while parts and parts[0] in ("super", "self"):
        if parts.pop(0) == "super":
            mod.pop()
    return "k8s.io." + ".".join(mod + parts[:-1]) + "." + parts[-1]


def parse_k8s_pb(root: str) -> dict[str, PbMessage]:
    messages: dict[str, PbMessage] = {}
    for path in sorted(glob.glob(os.path.join(root, "src", "**", "mod.rs"), recursive=True)):
        module = os.path.relpath(os.path.dirname(path), os.path.join(root, "src")).split(os.sep)
        package = "k8s.io." + ".".join(module)
        text = open(path, encoding="utf-8").read()
        text = "\n".join(l for l in text.splitlines() if not l.strip().startswith("//"))
        for m in re.finditer(r"^pub struct (\w+) \{(?:\}|\n(.*?)^\})", text, re.S | re.M):
            msg = PbMessage(package, m.group(1))
            body = (m.group(2) or "").strip()
            for f in FIELD_RE.finditer(body):
                attr, name, ty = f.group("attr"), f.group("name"), f.group("ty")
                tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
                target = WRAPPERS.sub("", re.sub(r"\s", "", ty))
                if attr.startswith("btree_map"):
                    key, value = re.search(r'btree_map = "(\w+), (\w+)"', attr).groups()
                    if key != "string":
                        sys.exit(f"error: {package}.{msg.rust_name}.{name}: map key {key} unsupported")
                    kind = "Msg" if value == "message" else SCALARS[value]
                    card = "Map"
                else:
                    first = attr.split(",")[0].split("=")[0].strip()
                    kind = "Msg" if first == "message" else SCALARS[first]
                    card = "Rep" if " repeated" in attr else "One"
                ref = resolve_path(module, target) if kind == "Msg" else None
                msg.fields.append(PbField(tag, name, kind, card, ref))
            if len(msg.fields) != body.count("#[prost("):
                sys.exit(f"error: could not parse every field of {package}.{msg.rust_name}")
            messages[f"{package}.{msg.rust_name}".lower()] = msg
    return messages


# ---------------------------------------------------------------------------------------------
# k8s-openapi: JSON names and resource kinds
# ---------------------------------------------------------------------------------------------




# ---------------------------------------------------------------------------------------------
# Go types: pointer / omitempty / inline facts and registered kinds (go-types.tsv)
# ---------------------------------------------------------------------------------------------

GO_REPOS = {"api": "k8s.io/api", "apimachinery": "k8s.io/apimachinery",
            "apiextensions-apiserver": "k8s.io/apiextensions-apiserver", "kube-aggregator": "k8s.io/kube-aggregator"}
GO_FIELD_RE = re.compile(r'^\s+(?:(\w+)\s+)?(\S+)\s+`([^`]*)`')


def extract_go_types(go_src: str, go_ref: str) -> None:
    rows = []
    kinds = []
    for repo in GO_REPOS:
        base = os.path.join(go_src, repo)
        if not os.path.isdir(base):
            sys.exit(f"error: {base} is missing (expected a checkout of {GO_REPOS[repo]})")
        for proto in sorted(glob.glob(os.path.join(base, "**", "generated.proto"), recursive=True)):
            package = re.search(r"^package ([\w.]+);", open(proto, encoding="utf-8").read(), re.M).group(1)
            kinds += registered_kinds(os.path.join(os.path.dirname(proto), "register.go"), package)
            for go in sorted(glob.glob(os.path.join(os.path.dirname(proto), "*.go"))):
                if go.endswith("_test.go") or os.path.basename(go).startswith(("generated.", "zz_")):
                    continue
                text = open(go, encoding="utf-8").read()
                for m in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", text, re.S | re.M):
                    for line in m.group(2).splitlines():
                        f = GO_FIELD_RE.match(line)
                        if not f:
                            continue
                        tags = dict(re.findall(r'(\w+):"([^"]*)"', f.group(3)))
                        if "protobuf" not in tags or "json" not in tags:
                            continue
                        pb = tags["protobuf"].split(",")
                        jparts = tags["json"].split(",")
                        if jparts[0] == "-":
                            continue
                        if "inline" in jparts[1:]:
                            cls = "inline"  # an embedded struct: its fields are the parent's in JSON
                        elif f.group(2).startswith("*"):
                            cls = "pointer"
                        elif "omitempty" in jparts[1:] or "omitzero" in jparts[1:]:
                            cls = "omitempty"
                        else:
                            cls = "value"
                        rows.append(("field", f"{package}.{m.group(1)}", int(pb[1]), jparts[0], cls))
    rows.sort()
    with open(GO_TYPES, "w", encoding="utf-8") as out:
        out.write(f"# Generated by `{COMMAND} --go-src DIR --go-ref {go_ref}` from the Go types of\n")
        out.write(f"# {', '.join(GO_REPOS.values())} at {go_ref} (Kubernetes {KUBE_VERSION}).\n")
        out.write("# field\tmessage\ttag\tjson\tpointer|omitempty|value|inline\n")
        out.write("# kind\tapiVersion\tkind\tmessage\n")
        for row in rows + sorted(set(kinds)):
            out.write("\t".join(map(str, row)) + "\n")
    print(f"wrote {os.path.relpath(GO_TYPES, REPO)}: {len(rows)} fields, {len(set(kinds))} kinds", file=sys.stderr)


def registered_kinds(register_go: str, package: str) -> list[tuple[str, str, str, str]]:
    """The kinds `register.go` adds to its group version (`scheme.AddKnownTypes(...)`)."""
    if not os.path.exists(register_go):
        return []
    text = open(register_go, encoding="utf-8").read()
    group = re.search(r'GroupName\s*=\s*"([^"]*)"', text)
    version = re.search(r'SchemeGroupVersion\s*=\s*schema\.GroupVersion\{[^}]*Version:\s*"([^"]+)"', text)
    if not group or not version:
        return []
    api_version = f"{group.group(1)}/{version.group(1)}" if group.group(1) else version.group(1)
    out = []
    for call in re.findall(r"AddKnownTypes\(SchemeGroupVersion,(.*?)\)\n", text, re.S):
        for kind in re.findall(r"&(\w+)\{\}", call):
            out.append(("kind", api_version, kind, f"{package}.{kind}"))
    return out


def go_rows(record: str) -> list[list[str]]:
    rows = []
    for line in open(GO_TYPES, encoding="utf-8"):
        if line.startswith(record + "\t"):
            rows.append(line.rstrip("\n").split("\t")[1:])
    return rows


def go_message_names() -> set[str]:
    return {row[0] for row in go_rows("field")} | {row[2] for row in go_rows("kind")}


def read_go_fields() -> dict[tuple[str, int], tuple[str, str]]:
    return {(message.lower(), int(tag)): (json, cls) for message, tag, json, cls in go_rows("field")}


# ---------------------------------------------------------------------------------------------
# Resolution
# ---------------------------------------------------------------------------------------------


def lower_camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def resolve(messages, openapi, go):
    problems: list[str] = []
    fallbacks: list[str] = []
    go_messages = {k[0] for k in go}
    go_names = {name.lower(): name for name in go_message_names()}
    for key, msg in messages.items():
        defs = [d[key] for d in openapi if key in d]
        if defs:
            msg.name = defs[0].name
        elif key in go_names:
            msg.name = go_names[key].rsplit(".", 1)[1]
        special = {k.lower(): k for k in SPECIAL}.get(key)
        msg.special = SPECIAL[special] if special else "Plain"
        if special and not msg.name:
            msg.name = special.rsplit(".", 1)[1]
        if msg.special == "Plain" and not defs and len(msg.fields) == 1 and msg.fields[0].card == "Rep" \
                and msg.fields[0].rust == "items" and not msg.rust_name.endswith("List"):
            msg.special = "Array"  # a Go named slice (`type ExtraValue []string`): JSON is the array
        for f in msg.fields:
            go_fact = go.get((key, f.tag))
            if go_fact and go_fact[1] == "inline":
                f.emit = "Inline"
                f.json = lower_camel(f.rust)
                continue
            for d in defs:
                if norm(f.rust) in d.json:
                    f.json = d.json[norm(f.rust)]
                    break
            if f.json is None and go_fact:
                f.json = go_fact[0]
                fallbacks.append(f"{msg.package}.{msg.rust_name}.{f.rust} -> {f.json} (from Go types)")
            if f.json is None:
                f.json = lower_camel(f.rust)
                fallbacks.append(f"{msg.package}.{msg.rust_name}.{f.rust} -> {f.json} (camelCase)")
            if go_fact and go_fact[0] != f.json:
                problems.append(f"{msg.package}.{msg.rust_name} tag {f.tag}: k8s-openapi says {f.json!r}, Go says {go_fact[0]!r}")
            if f.kind != "Msg" and f.card == "One" and msg.special == "Plain":
                if go_fact is None:
                    if key in go_messages:
                        problems.append(f"{msg.package}.{msg.rust_name}.{f.rust}: not in Go types")
                elif go_fact[1] == "omitempty":
                    f.emit = "NonZero"
    return problems, fallbacks


def kinds(messages, openapi, problems):
    """(apiVersion, kind) -> lowercased message key."""
    by_lower = {k: m for k, m in messages.items()}
    table: dict[tuple[str, str], str] = {}
    for api_version, kind, message in go_rows("kind"):
        if message.lower() in by_lower:
            table[(api_version, kind)] = message.lower()
        elif not message.startswith(f"{META}.Table") and ".meta.v1beta1." not in message:
            # (Table has no protobuf form; meta/v1beta1 kinds are aliases of meta/v1 ones.)
            problems.append(f"Go registers {api_version} {kind}, but k8s-pb has no {message}")
    for defs in reversed(openapi):  # newest-first wins: OPENAPI_MODULES[0] last
        for key, d in defs.items():
            if d.kind and key in by_lower:
                if (d.api_version, d.kind) in table and table[(d.api_version, d.kind)] != key:
                    problems.append(f"{d.api_version} {d.kind}: k8s-openapi says {key}, Go says {table[(d.api_version, d.kind)]}")
                table[(d.api_version, d.kind)] = key
    for (api_version, kind), key in list(table.items()):
        list_key = key + "list"
        if list_key in by_lower:
            table[(api_version, kind + "List")] = list_key
    if "k8s.io.api.core.v1.list" in by_lower:
        table[("v1", "List")] = "k8s.io.api.core.v1.list"
    for kind in META_KINDS:
        key = f"{META}.{kind}".lower()
        if key in by_lower:
            table[("meta.k8s.io/v1", kind)] = key
            table[("", kind)] = key  # any apiVersion: see META_KINDS
    return table


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def render(messages, table, pb_dir, openapi_dir) -> str:
    ordered = sorted(messages.values(), key=lambda m: m.full)
    index = {m.full.lower(): i for i, m in enumerate(ordered)}
    lines = [
        "// @generated by `%s`. Do not edit by hand." % COMMAND,
        "// Sources: k8s-pb %s (Kubernetes %s protobuf messages), k8s-openapi %s (JSON names and kinds,"
        % (os.path.basename(pb_dir).removeprefix("k8s-pb-"), KUBE_VERSION, os.path.basename(openapi_dir).removeprefix("k8s-openapi-")),
        "// modules %s), go-types.tsv (Go pointer / omitempty / inline facts, registered kinds)." % ", ".join(OPENAPI_MODULES),
        "",
        "use super::schema::{f, m, Card::*, Emit::*, Field, Kind::*, Message, Special::*};",
        "",
    ]
    fields_out = []
    msgs_out = []
    for m in ordered:
        start = len(fields_out)
        for f in sorted(m.fields, key=lambda f: f.tag):
            kind = f"Msg({index[f.msg.lower()]})" if f.kind == "Msg" else f.kind
            fields_out.append(f'    f({f.tag}, "{f.json}", {kind}, {f.card}, {f.emit}),')
        msgs_out.append(f'    m("{m.full}", {m.special}, {start}, {len(fields_out) - start}),')
    lines.append(f"pub static FIELDS: [Field; {len(fields_out)}] = [")
    lines += fields_out
    lines.append("];")
    lines.append("")
    lines.append("/// Sorted by name.")
    lines.append(f"pub static MESSAGES: [Message; {len(msgs_out)}] = [")
    lines += msgs_out
    lines.append("];")
    lines.append("")
    lines.append('/// (apiVersion, kind) -> message index, sorted. apiVersion "" matches any apiVersion (meta/v1 kinds).')
    lines.append(f"pub static KINDS: [(&str, &str, u16); {len(table)}] = [")
    for (api_version, kind), key in sorted(table.items()):
        lines.append(f'    ("{api_version}", "{kind}", {index[messages[key].full.lower()]}),')
    lines.append("];")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--go-src", help="refresh go-types.tsv from Go checkouts in this directory")
    ap.add_argument("--go-ref", default="v0.35.0", help="the tag of those checkouts, for the file's header")
    ap.add_argument("--check", action="store_true", help="fail if the output is not up to date")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every name resolved by a fallback")
    args = ap.parse_args()

    if args.go_src:
        extract_go_types(args.go_src, args.go_ref)
    pb_dir = crate_dir("k8s-pb", pinned_version("k8s-pb", K8S_PB_VERSION))
    openapi_dir = crate_dir("k8s-openapi", pinned_version("k8s-openapi", K8S_OPENAPI_VERSION))
    messages = parse_k8s_pb(pb_dir)
    openapi = parse_k8s_openapi(openapi_dir)
    go = read_go_fields()
    problems, fallbacks = resolve(messages, openapi, go)
    for m in messages.values():
        for f in m.fields:
            if f.kind == "Msg" and f.msg.lower() not in messages:
                problems.append(f"{m.full}.{f.json}: unknown message {f.msg}")
    table = kinds(messages, openapi, problems)
    for p in problems:
        warn(p)
    if args.verbose:
        for f in fallbacks:
            print(f"fallback: {f}", file=sys.stderr)
    n_fields = sum(len(m.fields) for m in messages.values())
    print(f"{len(messages)} messages, {n_fields} fields, {len(table)} kinds; "
          f"{n_fields - len(fallbacks)} JSON names from k8s-openapi, {len(fallbacks)} by fallback, "
          f"{len(problems)} problems", file=sys.stderr)
    text = render(messages, table, pb_dir, openapi_dir)
    write_or_check(OUT_TABLE, text, args.check, COMMAND, REPO)


if __name__ == "__main__":
    main()
