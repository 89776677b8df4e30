#!/usr/bin/env bash
# Prints the defect matrix of docs/defects.md as a Markdown table: each
# defect switch against the scenario that exposes it, then the correct
# pipeline on every matrix scenario. Usage: scripts/defect-matrix.sh
# [WATCHLOAD_BINARY] (default target/release/watchload). Needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-target/release/watchload}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

row() { # defect scenario exit report.json
  python3 - "$@" <<'PY'
import json, sys
defect, scenario, code, path = sys.argv[1:5]
r = json.load(open(path))
v = r.get("verification", r)
errors = {c: s["count"] for c, s in v["classes"].items()
          if s["count"] and c not in ("exact", "tolerated")}
classes = ", ".join(f"{c} {n}" for c, n in errors.items()) or "-"
attr = "; ".join(c + ": " + ", ".join(f"{k} {n}" for k, n in a.items())
                 for c, a in v["attribution"].items()) or "-"
verdict = {"0": "pass", "1": "FAIL"}.get(code, "error " + code)
print(f"| `{defect}` | {scenario} | {verdict} (exit {code}) | "
      f"{v['scores']['f1']:.3f} | {v['truth']['sessions']} | {classes} | {attr} |")
PY
}

file_mode() { # scenario defect-or-empty seed-or-empty
  local sc=$1 defect=$2 seed=$3 d="$work/$1-${3:-s}"
  [ -f "$d/truth.jsonl" ] || "$W" generate "scenarios/matrix/$sc.toml" --unpaced --out "$d" \
    ${seed:+--seed "$seed"} >/dev/null 2>&1
  "$W" pipeline --input "$d/events.jsonl" --output "$d/s.jsonl" \
    ${defect:+--defect "$defect"} 2>/dev/null
  local code=0
  "$W" verify --truth "$d" --sessions "$d/s.jsonl" --report-dir "$d/v" >/dev/null || code=$?
  row "${defect:-none}" "$sc${seed:+ seed $seed} (file mode)" "$code" "$d/v/report.json"
}

kafka_mode() { # scenario defect-or-empty seed-or-empty extra...
  local sc=$1 defect=$2 seed=$3 d="$work/k-$1-${2:-none}-${3:-s}"
  shift 3
  local code=0
  "$W" run "scenarios/matrix/$sc.toml" --quiet 2s --report-dir "$d" \
    -X session.timeout.ms=3000 -X heartbeat.interval.ms=500 \
    ${defect:+--defect "$defect"} ${seed:+--seed "$seed"} "$@" >/dev/null 2>&1 || code=$?
  row "${defect:-none}" "$sc${seed:+ seed $seed} (run)" "$code" "$d"/*/report.json
}

echo "| defect | scenario | verdict | F1 | truth sessions | error classes | attribution |"
echo "|---|---|---|---|---|---|---|"
file_mode duplicate-storm no-dedup ""
file_mode clock-skew processing-time ""
file_mode device-handoff single-device ""
file_mode late-storm drop-late ""
file_mode boundary exclusive-gap ""
kafka_mode shutdown no-flush-on-shutdown "" --end-of-stream shutdown
kafka_mode restart lose-state-on-restart ""
for sc in duplicate-storm clock-skew device-handoff late-storm boundary; do
  for seed in "" 11 12; do file_mode "$sc" "" "$seed"; done
done
for seed in "" 11; do
  kafka_mode shutdown "" "$seed" --end-of-stream shutdown
  kafka_mode restart "" "$seed"
done
