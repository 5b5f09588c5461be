#!/usr/bin/env python3
"""Independent check of `lineage deps` matching (docs/dependencies.md, "Accuracy").

Reads OSV records (a zip such as the benchmark's PyPI-all.zip, or a folder of JSON files) and a pinned
requirements file (`name==version` lines), decides with the reference PEP 440 implementation
(`packaging.version`, Debian package python3-packaging) which (package, version, advisory) triples OSV's
semantics make affected, and compares them with the findings of `lineage deps --format json`.

    /usr/bin/python3 tools/osv-oracle.py OSV.zip requirements.txt deps.json

Prints the counts, recall and false positives, and exits 1 on any disagreement.
OSV semantics implemented here, separately from Lineage's code: an ECOSYSTEM range's events are sorted by
version (introduced "0" first); a version is affected when the last event at or below it is `introduced`,
or it is above an `introduced` and at or below a following `last_affected`, and below a following `fixed`/`limit`;
explicit `versions` lists match exactly; withdrawn records never match; PEP 503 names.
"""
import json
import os
import re
import sys
import zipfile

from packaging.version import InvalidVersion, Version


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def records(path):
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for n in z.namelist():
                if n.endswith(".json"):
                    yield json.loads(z.read(n))
    else:
        for root, _, files in os.walk(path):
            for f in files:
                if f.endswith(".json"):
                    with open(os.path.join(root, f), encoding="utf-8") as fh:
                        yield json.load(fh)


def parse(v):
    try:
        return Version(v)
    except InvalidVersion:
        return None


def range_affects(events, v):
    """OSV ECOSYSTEM range evaluation, written from the spec's pseudo-code."""
    def key(e):
        kind, ver = next(iter(e.items()))
        return (Version("0") if ver == "0" and kind == "introduced" else parse(ver)), kind
    evs = []
    for e in events:
        k, kind = key(e)
        if k is None:
            return False
        evs.append((k, kind))
    # Sort by version; at equal versions the order in the spec's algorithm does not matter for these kinds.
    evs.sort(key=lambda x: x[0])
    affected = False
    for ver, kind in evs:
        if kind == "introduced":
            if ver <= v:
                affected = True
        elif kind in ("fixed", "limit"):
            if ver <= v:
                affected = False
        elif kind == "last_affected":
            if ver < v:
                affected = False
    return affected


def main():
    osv, req, deps_json = sys.argv[1:4]
    pins = {}
    with open(req, encoding="utf-8") as fh:
        for line in fh:
            m = re.match(r"\s*([A-Za-z0-9._-]+)\s*==\s*([^\s;#]+)", line)
            if m:
                pins[normalize(m.group(1))] = m.group(2)
    expected = set()
    withdrawn = 0
    for r in records(osv):
        if r.get("withdrawn"):
            withdrawn += 1
            continue
        for a in r.get("affected", []):
            pkg = a.get("package", {})
            if pkg.get("ecosystem") != "PyPI":
                continue
            name = normalize(pkg.get("name", ""))
            if name not in pins:
                continue
            v = parse(pins[name])
            if v is None:
                continue
            hit = any(parse(x) == v for x in a.get("versions", []) if parse(x) is not None)
            for rg in a.get("ranges", []):
                if rg.get("type") == "ECOSYSTEM" and range_affects(rg.get("events", []), v):
                    hit = True
            if hit:
                expected.add((name, pins[name], r["id"]))
    with open(deps_json, encoding="utf-8") as fh:
        report = json.load(fh)
    got = set()
    for f in report["findings"]:
        if f["rule"] in ("known-vulnerable", "known-malicious"):
            got.add((normalize(f["package"]), f["version"], f["ids"][0]))
    tp = len(expected & got)
    fn = sorted(expected - got)
    fp = sorted(got - expected)
    packages_expected = {(n, v) for n, v, _ in expected}
    packages_got = {(n, v) for n, v, _ in got}
    print(f"pinned packages: {len(pins)}; withdrawn records skipped: {withdrawn}")
    print(f"affected (package, advisory) pairs: expected {len(expected)}, reported {len(got)}, agreed {tp}")
    print(f"recall {tp / max(1, len(expected)):.4f}; false positives {len(fp)}; missed {len(fn)}")
    print(f"affected packages: expected {len(packages_expected)}, reported {len(packages_got)}")
    for x in fn[:10]:
        print("  missed", x)
    for x in fp[:10]:
        print("  extra ", x)
    return 0 if not fn and not fp else 1


if __name__ == "__main__":
    sys.exit(main())
