#!/usr/bin/env bash
# Regenerates crates/conformance/oracle/vectors.jsonl: runs the oracle's scenarios on durabletask-python's
# in-memory engine with the Python worker, records every work item and its completion off the wire, then checks
# that the Python executors reproduce every recorded response offline.
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
"$python" "$oracle" record "$scratch"
"$python" "$oracle" replay "$scratch"
mv "$scratch" "$vectors"
trap - EXIT
echo "wrote $(wc -l < "$vectors") vectors to ${vectors#"$root"/}" >&2
