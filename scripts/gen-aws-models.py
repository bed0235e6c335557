#!/usr/bin/env python3
"""Writes the AWS service models keks' restJson1 layer is driven by, from the botocore
package installed in the test virtualenv (`.venv`, see tests/python/requirements.txt).

Each model is botocore's `service-2.json` for the service with the documentation strings
dropped: operations (HTTP method, URI, input/output shapes, errors) and shapes (types,
members and where each travels, required members, enums, min/max). The output is
`crates/keks-aws/models/<service>.json`; `--check` fails if a committed model is stale.
"""

import gzip
import json
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
OUT = REPO / "crates" / "keks-aws" / "models"
SERVICES = {"eks": "2017-11-01"}
DROP = {"documentation", "documentationUrl", "examples", "deprecated", "deprecatedMessage",
        "endpointdiscovery", "authtype", "auth", "contextParam", "staticContextParams"}


def botocore_data():
    for site in sorted((REPO / ".venv" / "lib").glob("python3*/site-packages/botocore/data")):
        return site
    sys.exit("botocore not found under .venv; run scripts/test once (it creates the venv)")


def load(path):
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.exists():
            opener = gzip.open if candidate.suffix == ".gz" else open
            with opener(candidate, "rt") as f:
                return json.load(f)
    sys.exit(f"{path} not found")


def strip(value):
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in DROP}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def render(service, version):
    model = load(botocore_data() / service / version / "service-2.json")
    trimmed = {
        "metadata": strip(model["metadata"]),
        "operations": strip(model["operations"]),
        "shapes": strip(model["shapes"]),
    }
    return json.dumps(trimmed, indent=1, sort_keys=True) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for service, version in SERVICES.items():
        text = render(service, version)
        path = OUT / f"{service}.json"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path} ({len(text)} bytes)")
    if stale:
        sys.exit("stale (run scripts/gen-aws-models.py): " + ", ".join(stale))


if __name__ == "__main__":
    main()
