#!/usr/bin/env bash
# Regenerates crates/conformance/oracle/vectors.jsonl: runs the oracle's scenarios on durabletask-python's
# in-memory engine with the Python worker, records every work item and its completion off the wire, then checks
# that the Python executors reproduce every recorded response offline.
# Usage: bash scripts/record-conformance-vectors.sh [SCENARIO ...]   (named scenarios only replace their own lines)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DURABLE_VENV:-$root/.venv}"
python="$venv/bin/python"
oracle="$root/crates/conformance/oracle/oracle.py"
vectors="$root/crates/conformance/oracle/vectors.jsonl"
if [[ ! -x "$python" ]]; then
    echo "no Python virtualenv at $venv: run 'bash scripts/setup-venv.sh' first" >&2
    exit 1
fi
scratch="$(mktemp "${TMPDIR:-/tmp}/vectors.XXXXXX")"
trap 'rm -f "$scratch"' EXIT
"$python" "$oracle" record "$scratch" "$@"
"$python" "$oracle" replay "$scratch"
if [[ $# -gt 0 ]]; then
    # Only the named scenarios were recorded: they replace their old lines, every other line stays as it was.
    "$python" - "$vectors" "$scratch" "$@" <<'PY'
import json, sys
vectors, scratch, names = sys.argv[1], sys.argv[2], set(sys.argv[3:])
kept = [line for line in open(vectors) if json.loads(line)["scenario"] not in names]
with open(vectors, "w") as out:
    out.writelines(kept + open(scratch).readlines())
PY
    rm -f "$scratch"
else
    mv "$scratch" "$vectors"
fi
trap - EXIT
echo "wrote $(wc -l < "$vectors") vectors to ${vectors#"$root"/}" >&2
