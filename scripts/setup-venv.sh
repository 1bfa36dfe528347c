#!/usr/bin/env bash
# Creates the project's Python virtualenv (.venv) with Microsoft's durabletask SDK, which provides
# the local durable engine (InMemoryOrchestrationBackend) and the reference executors used by the
# conformance tests. Idempotent: does nothing when the pinned versions are already installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DURABLE_VENV:-$root/.venv}"
requirements="$root/scripts/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
echo "$want" > "$stamp"
echo "python virtualenv ready at $venv" >&2
