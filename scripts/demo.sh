#!/usr/bin/env bash
# The demo: runs a message file (by default samples/messages.jsonl: 300 returns, complete, incomplete, cancelled,
# duplicated and malformed messages) through the real handler and Microsoft's local durable engine, played by
# local-host exactly as the Azure Functions host would, then prints the consolidated notifications, the stuck-return
# alerts and the invalid events.
#
# Usage: bash scripts/demo.sh [messages.jsonl]
#
# Any message file works: local-host runs until nothing is left to do, including the stuck-return checks due within
# a minute (time is compressed: a return still open DEMO_STUCK_AFTER after its first event, 20s by default, raises its
# alert). While it runs, a progress display shows the messages settled, what is in flight, what was published and the
# timers it waits for. For the sample file, the result is compared with samples/expected.json. At the end it prints
# one return's timeline from the spans the handler exported (local-host receives them itself): the messages in, the
# signals to the return's entity, its operations, the orchestration's episodes and the publishing activity, with times.
#
# Environment: DEMO_STUCK_AFTER (default 20s); LOCAL_HOST_BIN and HANDLER_BIN to use built binaries instead of
# building release ones (the CI test does); DEMO_OUT (default out/) for the output files; LOCAL_HOST_LOG to change
# what local-host logs (see `local-host run --help`); DEMO_TIMELINE, the return whose timeline is printed
# (RET-2025-000001 for the sample file, none for other files; empty for none).
# Exit status: local-host's (0 when the run finished and nothing was lost; see `local-host run --help`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
messages="${1:-samples/messages.jsonl}"
out="${DEMO_OUT:-$root/out}"
stuck_after="${DEMO_STUCK_AFTER:-20s}"
mkdir -p "$out"
if [ ! -f "$messages" ]; then
    echo "demo: no message file $messages" >&2
    exit 1
fi

# local-host reads the app settings from local.settings.json (git-ignored): a fresh clone starts from the template.
[[ -f local.settings.json ]] || cp local.settings.example.json local.settings.json

echo "==> python virtualenv with the local durable engine (durabletask 1.12.0)"
bash scripts/setup-venv.sh

if [ -n "${LOCAL_HOST_BIN:-}" ] && [ -n "${HANDLER_BIN:-}" ]; then
    local_host="$LOCAL_HOST_BIN"
    handler="$HANDLER_BIN"
else
    echo "==> building the handler and the local host"
    cargo build --release -p returns-aggregator --bin handler -p local-host --bin local-host
    target_dir="${CARGO_TARGET_DIR:-$root/target}"
    local_host="$target_dir/release/local-host"
    handler="$target_dir/release/handler"
fi

sample=false
[ "$(realpath "$messages")" = "$root/samples/messages.jsonl" ] && sample=true
timeline=()
if $sample; then default_timeline=RET-2025-000001; else default_timeline=; fi
if [ -n "${DEMO_TIMELINE-$default_timeline}" ]; then
    timeline=(--timeline "${DEMO_TIMELINE-$default_timeline}")
fi

echo "==> running $messages through the handler (a return still open $stuck_after after its first event is stuck)"
status=0
"$local_host" run \
    --app-root . \
    --handler "$handler" \
    --messages "$messages" \
    --published "$out/published.jsonl" \
    --dead-letter "$out/dead-letter.jsonl" \
    --handler-log "$out/handler.log" \
    --set "STUCK_RETURN_AFTER=$stuck_after" \
    "${timeline[@]}" \
    || status=$?

echo
expected=()
if $sample; then
    expected=(--expected samples/expected.json)
fi
python3 scripts/print_published.py "$out/published.jsonl" --dead-letter "$out/dead-letter.jsonl" "${expected[@]}"
echo
echo "All published messages: $out/published.jsonl; handler log: $out/handler.log"
exit "$status"
