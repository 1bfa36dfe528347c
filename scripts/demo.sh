#!/usr/bin/env bash
# The demo: runs samples/messages.jsonl (300 returns: complete, incomplete, cancelled, duplicated and malformed
# messages) through the real handler and Microsoft's local durable engine, played by local-host exactly as the
# Azure Functions host would, then prints the consolidated notifications and stuck-return alerts.
# Usage: bash scripts/demo.sh [messages.jsonl]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
messages="${1:-samples/messages.jsonl}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="$root/out"
mkdir -p "$out"

# local-host reads the app settings from local.settings.json (git-ignored): a fresh clone starts from the template.
[[ -f local.settings.json ]] || cp local.settings.example.json local.settings.json

echo "==> python virtualenv with the local durable engine (durabletask 1.12.0)"
bash scripts/setup-venv.sh

echo "==> building the handler and the local host"
cargo build --release -p returns-aggregator --bin handler -p local-host --bin local-host

# The demo compresses time: a return still incomplete 20 s after its first event raises its stuck alert.
expected_published="$(python3 scripts/print_published.py --expected-count samples/expected.json)"
echo "==> running $messages through the handler (waiting for $expected_published published messages)"
"$target_dir/release/local-host" run \
    --app-root . \
    --handler "$target_dir/release/handler" \
    --messages "$messages" \
    --published "$out/published.jsonl" \
    --dead-letter "$out/dead-letter.jsonl" \
    --handler-log "$out/handler.log" \
    --set STUCK_RETURN_AFTER=20s \
    --wait-for-published "$expected_published"

echo
python3 scripts/print_published.py "$out/published.jsonl" --dead-letter "$out/dead-letter.jsonl" \
    --expected samples/expected.json
echo
echo "All published messages: $out/published.jsonl; handler log: $out/handler.log"
