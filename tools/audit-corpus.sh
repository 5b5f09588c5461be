#!/usr/bin/env bash
# Audits every ladder model and every real model folder of ../shared/corpus, builds a CycloneDX BOM of each and
# validates nothing but that the commands ran: one line per model with the audit verdict, exit code, files, findings,
# detected base, BOM size and seconds. The test suite audits a representative subset (Evidence/AuditTests); this
# script is the full sweep. Usage: tools/audit-corpus.sh [OUT_DIR] [all|ladder|real]
# (JSON, SARIF, BOM and HTML per model land in OUT_DIR). A real/ folder that holds several independent weights files
# (two exports, two seeds) is audited file by file; a folder with one weights file (plus sidecars) as a whole.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus="${LINEAGE_CORPUS:-$root/../shared/corpus}"
out="${1:-$(mktemp -d)}"
subset="${2:-all}"
mkdir -p "$out"
lineage="$root/lineage"
db="$out/ladder-bases.db"
rm -f "$db"
for base in A B C D; do "$lineage" db add "$corpus/ladder/$base" --id "ladder/$base" --family ladder --db "$db" >/dev/null; done

models=()
if [ "$subset" != real ]; then
  for m in "$corpus"/ladder/*; do
    case "$(basename "$m")" in *.json|*.md) continue ;; esac
    models+=("$m")
  done
fi
if [ "$subset" != ladder ]; then
  for m in "$corpus"/real/weights/*; do
    weights=()
    for f in "$m"/*; do
      case "$f" in *.json|*.txt|*.md|*.model|*.data) ;; *) weights+=("$f") ;; esac
    done
    if [ "${#weights[@]}" -gt 1 ]; then models+=("${weights[@]}"); else models+=("$m"); fi
  done
fi

printf '%-44s %-8s %4s %5s %8s  %-22s %8s %6s\n' model verdict exit files findings detected bom_bytes sec
for m in "${models[@]}"; do
  name="$(basename "$m")"
  start=$(date +%s.%N)
  set +e
  "$lineage" audit "$m" --db "$db" --format json --report html "$out/$name.html" >"$out/$name.audit.json" 2>"$out/$name.stderr"
  code=$?
  "$lineage" audit "$m" --db "$db" --format sarif >"$out/$name.sarif" 2>>"$out/$name.stderr"
  "$lineage" bom "$m" --db "$db" -o "$out/$name.cdx.json" 2>>"$out/$name.stderr"
  set -e
  end=$(date +%s.%N)
  python3 - "$out/$name.audit.json" "$out/$name.cdx.json" "$name" "$code" "$start" "$end" <<'EOF'
import json, os, sys
audit, bom, name, code, start, end = sys.argv[1:]
a = json.load(open(audit))
detected = a["lineage"]["detected"]
base = f'{detected[0]["model_id"]} ({detected[0]["verdict"]})' if detected else "-"
size = os.path.getsize(bom) if os.path.exists(bom) else "-"
print(f'{name:<44} {a["verdict"]:<8} {code:>4} {len(a["files"]):>5} {len(a["findings"]):>8}  {base:<22} {size:>8} {float(end)-float(start):>6.1f}')
EOF
done
echo "outputs in $out" >&2
