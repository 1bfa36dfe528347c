#!/usr/bin/env bash
# End-to-end throughput: samples/messages.jsonl, replicated COPIES times with fresh return, message and event ids,
# through release builds of the handler and local-host against Microsoft's local durable engine. For each run it
# reports returns/s and events/s over the span from the first message enqueued to the last message published, the
# handler's summed invocation time against that span, and the CPU each process used during the run (handler, the
# Python engine, local-host), which tells where the time goes.
#
# Usage: bash scripts/bench-end-to-end.sh [COPIES] [RUNS]     (defaults: 4 copies = 1,200 returns, 3 runs)
# Output: a table on stdout; the local-host summaries of each run in target/bench-end-to-end/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
copies="${1:-4}"
runs="${2:-3}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="$target_dir/bench-end-to-end"
mkdir -p "$out"

bash scripts/setup-venv.sh >/dev/null
cargo build --quiet --release -p returns-aggregator --bin handler -p local-host --bin local-host

# The load: the sample traffic COPIES times. Copy k > 0 renames every return (RET-2025-000123 becomes
# RET-2025-C1-000123) and maps every UUID (message and event ids) to a fresh one, consistently, so duplicates stay
# duplicates and malformed messages stay malformed.
messages="$out/messages.jsonl"
python3 - "$copies" samples/messages.jsonl >"$messages" <<'PY'
import re
import sys
import uuid

copies, path = int(sys.argv[1]), sys.argv[2]
lines = [line for line in open(path, encoding="utf-8").read().splitlines() if line.strip()]
uuid_pattern = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
return_pattern = re.compile(r"RET-2025-(\d{6})")
for copy in range(copies):
    for line in lines:
        if copy:
            line = return_pattern.sub(lambda m: f"RET-2025-C{copy}-{m.group(1)}", line)
            line = uuid_pattern.sub(lambda m: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{copy}:{m.group(0)}")), line)
        print(line)
PY
read -r per_copy_published per_copy_returns per_copy_settled < <(python3 - samples/expected.json <<'PY'
import json
import sys

expected = json.load(open(sys.argv[1], encoding="utf-8"))
print(expected["notifications"] + expected["messages"]["invalid"], expected["returns"]["total"], expected["notifications"])
PY
)
published=$((copies * per_copy_published))
returns=$((copies * per_copy_returns))
settled=$((copies * per_copy_settled))
events="$(grep -c . "$messages")"
echo "load: $events messages for $returns returns ($settled settle), $copies cop(ies) of samples/messages.jsonl"
echo "machine: $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"
echo

printf '%-4s %7s %9s %9s %13s %13s %13s %13s\n' run "span s" returns/s events/s "handler CPU" "engine CPU" "host CPU" "in flight"
for run in $(seq 1 "$runs"); do
    summary="$out/run-$run.txt"
    "$target_dir/release/local-host" run \
        --app-root . \
        --handler "$target_dir/release/handler" \
        --messages "$messages" \
        --published "$out/published-$run.jsonl" \
        --dead-letter "$out/dead-letter-$run.jsonl" \
        --handler-log "$out/handler-$run.log" \
        --set STUCK_RETURN_AFTER=1h \
        --set RUST_LOG=warn \
        --wait-for-published "$published" \
        --idle-timeout 600 \
        --quiet >"$summary" 2>"$out/local-host-$run.log"
    python3 - "$summary" "$run" "$returns" "$events" <<'PY'
import re
import sys

path, run, returns, events = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
text = open(path, encoding="utf-8").read()


def number(pattern):
    match = re.search(pattern, text)
    if not match:
        sys.exit(f"{path}: no match for {pattern!r}")
    return float(match.group(1))


span = number(r"first message enqueued to last message published: ([\d.]+) s")
in_flight = number(r"invocation time: ([\d.]+) s") / span
cpu = {name: number(rf"{name} ([\d.]+) s") for name in ("handler", "engine", "local host")}
shares = [f"{cpu[name]:5.2f} s {100 * cpu[name] / span:3.0f}%" for name in cpu]
print(f"{run:<4} {span:7.2f} {returns / span:9.0f} {events / span:9.0f} {shares[0]:>13} {shares[1]:>13} {shares[2]:>13} "
      f"{in_flight:13.1f}")
PY
done
echo
echo "Invocations of the last run (count, mean latency as the host saw it):"
python3 - "$out/run-$runs.txt" <<'PY'
import re
import sys

for name, ok, failed, timed_out, lost, busy in re.findall(
    r"^\s+(\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+) s$", open(sys.argv[1], encoding="utf-8").read(), re.M
):
    count = int(ok) + int(failed) + int(timed_out) + int(lost)
    print(f"  {name:<22} {count:6d}  {1000 * float(busy) / count:7.2f} ms")
PY
echo
echo "span: first message enqueued to last message published; release builds; maxConcurrentCalls 32, 32 work items."
echo "CPU: user + system time of each process during the run, and its share of the span (100 % = one core busy)."
echo "in flight: summed invocation time / span, the mean number of invocations the handler had in flight."
echo "Summaries of each run: $out/run-*.txt"
