#!/usr/bin/env bash
# Regenerates the built-in reference catalog (src/Lineage/Catalog/reference-catalog.json) from ../shared/corpus.
# The catalog holds derived facts and hashes only, with attribution (see docs/catalog.md); the corpus itself is
# never copied. CatalogGeneratorTests fails when the committed file differs from what this script produces.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus="${LINEAGE_CORPUS:-$root/../shared/corpus}"
"$root/lineage" dev-build-catalog --corpus "$corpus" -o "$root/src/Lineage/Catalog/reference-catalog.json"
