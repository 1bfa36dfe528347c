#!/usr/bin/env bash
# Regenerates crates/conformance/oracle/vectors.jsonl and versioned_vectors.jsonl: runs the oracle's scenarios
# (the versioned ones on a worker with versioning options) on durabletask-python's in-memory engine with the Python
# worker, records every work item and its completion off the wire, then checks that the Python executors
# reproduce every recorded response offline.
# Usage: bash scripts/record-conformance-vectors.sh [SCENARIO ...]   (named unversioned scenarios only replace
# their own lines; the versioned vectors are re-recorded only when no scenario is named)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DURABLE_VENV:-$root/.venv}"
python="$venv/bin/python"
oracle="$root/crates/conformance/oracle/oracle.py"
vectors="$root/crates/conformance/oracle/vectors.jsonl"
versioned="$root/crates/conformance/oracle/versioned_vectors.jsonl"
if [[ ! -x "$python" ]]; then
    echo "no Python virtualenv at $venv: run 'bash scripts/setup-venv.sh' first" >&2
    exit 1
fi
scratch="$(mktemp "${TMPDIR:-/tmp}/vectors.XXXXXX")"
scratch_versioned="$(mktemp "${TMPDIR:-/tmp}/versioned.XXXXXX")"
trap 'rm -f "$scratch" "$scratch_versioned"' EXIT
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
    rm -f "$scratch" "$scratch_versioned"
else
    "$python" "$oracle" record-versioned "$scratch_versioned"
    "$python" "$oracle" replay "$scratch_versioned"
    mv "$scratch" "$vectors"
    mv "$scratch_versioned" "$versioned"
fi
trap - EXIT
echo "wrote $(wc -l < "$vectors") vectors to ${vectors#"$root"/}" >&2
echo "wrote $(wc -l < "$versioned") vectors to ${versioned#"$root"/}" >&2
