#!/usr/bin/env bash
# Re-records the replay-check corpus tests/histories/corpus.jsonl: runs tests/histories/input/messages.jsonl
# through the current handler with local-host and the local durable engine (started here, so that it outlives the
# run), exports the history of every orchestration instance with `handler export-histories`, and checks that this
# build replays the new corpus. Re-record after a deliberate change of the orchestrator (with its version bumped in
# host.json), so that CI keeps checking the histories the current code writes; keep the old corpus files that
# deployed versions wrote as long as such instances may be in flight.
#
# Usage: bash scripts/record-histories.sh [OUT_FILE]   (default tests/histories/corpus.jsonl)
# Environment: LOCAL_HOST_BIN and HANDLER_BIN to use built binaries (otherwise debug ones are built).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${1:-tests/histories/corpus.jsonl}"
messages="tests/histories/input/messages.jsonl"

[[ -f local.settings.json ]] || cp local.settings.example.json local.settings.json
bash scripts/setup-venv.sh
if [[ -n "${LOCAL_HOST_BIN:-}" && -n "${HANDLER_BIN:-}" ]]; then
    local_host="$LOCAL_HOST_BIN"
    handler="$HANDLER_BIN"
else
    cargo build -p returns-aggregator --bin handler -p local-host --bin local-host
    target_dir="${CARGO_TARGET_DIR:-$root/target}"
    local_host="$target_dir/debug/local-host"
    handler="$target_dir/debug/handler"
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/record-histories.XXXXXX")"
coproc ENGINE { exec "${DURABLE_VENV:-$root/.venv}/bin/python" scripts/local_engine.py 0; }
engine_pid=$ENGINE_PID
trap 'kill "$engine_pid" 2>/dev/null || true; rm -rf "$scratch"' EXIT
read -r -t 60 listening <&"${ENGINE[0]}" || { echo "record-histories: the local engine did not start" >&2; exit 1; }
port="${listening#LISTENING }"
# One message at a time, in the file's order: concurrent deliveries may let the late cancellation reach the second
# return before it settles, and the corpus would then lack its notification.
echo "==> local engine on 127.0.0.1:$port; running $messages (a return open 2s after its first event is stuck)"
"$local_host" run \
    --app-root . \
    --engine "127.0.0.1:$port" \
    --handler "$handler" \
    --messages "$messages" \
    --published "$scratch/published.jsonl" \
    --handler-log "$scratch/handler.log" \
    --set "STUCK_RETURN_AFTER=2s" \
    --max-concurrent-calls 1 \
    --quiet
echo "==> exporting the histories"
"$handler" export-histories --engine "http://127.0.0.1:$port" --out "$scratch/corpus.jsonl"
echo "==> checking that this build replays them"
"$handler" replay-check --all "$scratch/corpus.jsonl"
mv "$scratch/corpus.jsonl" "$out"
echo "wrote $(wc -l < "$out") histories to $out"
