#!/usr/bin/env python3
"""Finds real, widely used packages that the `typosquat` rule would flag, so they can be listed as legit.

Mirrors src/Lineage/Supply/Typosquats.cs (fold + optimal-string-alignment distance with the same limits).
Input: package lists with popularity (PyPI: rank among the 15,000 most downloaded; npm: monthly downloads),
tab-separated with a header: PyPI "name, version, month, rank, summary", npm "name, version, downloads, summary".
Output: "legit ECOSYSTEM NAME" lines to append to src/Lineage/Supply/Data/popular-packages.txt.

usage: tools/typosquat-calibrate.py PYPI_TSV NPM_TSV [--npm-min-downloads N]
"""
import re
import sys


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower().strip("-")


def fold(name):
    out = []
    for c in name.lower():
        if c in "-_.@/":
            continue
        out.append({"0": "o", "1": "l", "5": "s"}.get(c, c))
    return "".join(out).replace("rn", "m").replace("vv", "w")


def distance(a, b, limit):
    n, m = len(a), len(b)
    if abs(n - m) > limit:
        return limit + 1
    prev2 = [0] * (m + 1)
    prev = list(range(m + 1))
    for i in range(1, n + 1):
        cur = [i] + [0] * m
        for j in range(1, m + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[m]


def flagged(name, popular):
    if name in popular:
        return None
    f = fold(name)
    for p in popular:
        if fold(p) == f:
            return p
        limit = 2 if len(p) >= 10 else 1 if len(p) >= 5 else 0
        if limit and abs(len(p) - len(name)) <= limit and distance(name, p, limit) <= limit:
            return p
    return None


def main():
    pypi_tsv, npm_tsv = sys.argv[1], sys.argv[2]
    npm_min = int(sys.argv[sys.argv.index("--npm-min-downloads") + 1]) if "--npm-min-downloads" in sys.argv else 100_000
    popular = {"pypi": [], "npm": []}
    for line in open("src/Lineage/Supply/Data/popular-packages.txt"):
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#"):
            popular[parts[0]].append(pep503(parts[1]) if parts[0] == "pypi" else parts[1].lower())
    out = []
    with open(pypi_tsv, encoding="utf-8") as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > 3 and cols[3].strip():
                name = pep503(cols[0])
                hit = flagged(name, popular["pypi"])
                if hit:
                    out.append(("pypi", name, hit))
    with open(npm_tsv, encoding="utf-8") as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > 2 and cols[2].isdigit() and int(cols[2]) >= npm_min:
                name = cols[0].lower()
                hit = flagged(name, popular["npm"])
                if hit:
                    out.append(("npm", name, hit))
    for eco, name, hit in sorted(set(out)):
        print(f"legit {eco} {name}  # near {hit}")


if __name__ == "__main__":
    main()
