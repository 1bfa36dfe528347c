#!/usr/bin/env bash
# Handler benchmarks on loopback (see BENCHMARKS.md, "Handler throughput" and "Memory and start-up").
#
# Usage: bash scripts/bench-handler.sh                      (from anywhere)
#        BENCH_DURATION=20 BENCH_CONNECTIONS=32 bash scripts/bench-handler.sh
#        BENCH_ENGINE=0 bash scripts/bench-handler.sh       (skip the valid Service Bus message: no local engine)
#        BENCH_READY_RUNS=20                                 (start-up runs per handler)
#        BENCH_TARGET=x86_64-unknown-linux-musl bash scripts/bench-handler.sh
#                                                            (the statically linked build that is deployed)
#
# 1. installs wrk when missing (Debian package), sets up the Python virtualenv;
# 2. builds the release handler and writes the exact host payloads (cargo bench --bench handler_payloads) to
#    target/bench-handler/payloads/, with a valid Service Bus message when the local engine runs;
# 3. starts the handler from the repository root on a free port and drives each payload with wrk from a second
#    process on 127.0.0.1 (keep-alive connections, POST of the payload): invocations/s, p50, p99, non-2xx;
#    VmRSS idle, in the middle of each load and VmHWM at the end, from /proc/<pid>/status;
# 4. the same for scripts/bench_python_handler.py serve (the durabletask-python executors) on the orchestrator
#    and entity payloads;
# 5. start-up: time from exec to the first 200 on GET /, BENCH_READY_RUNS runs each, median;
# 6. prints a summary and keeps it in target/bench-handler/results.tsv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# The host passes every app setting to the handler; the handler refuses to start without this one.
export FUNCTIONS_WORKER_RUNTIME=custom
python="${DURABLE_VENV:-$root/.venv}/bin/python"
duration="${BENCH_DURATION:-10}"
connections="${BENCH_CONNECTIONS:-16}"
wrk_threads="${BENCH_WRK_THREADS:-1}"
ready_runs="${BENCH_READY_RUNS:-20}"
use_engine="${BENCH_ENGINE:-1}"
out="$root/target/bench-handler"
target_triple="${BENCH_TARGET:-}"
if [[ -n "$target_triple" ]]; then
    handler_bin="${CARGO_TARGET_DIR:-$root/target}/$target_triple/release/handler"
else
    handler_bin="${CARGO_TARGET_DIR:-$root/target}/release/handler"
fi
payloads="$out/payloads"
results="$out/results.tsv"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*" >&2; }

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_ready() { # port pid
    for _ in $(seq 1 600); do
        if curl -sf "http://127.0.0.1:$1/" >/dev/null 2>&1; then return 0; fi
        kill -0 "$2" 2>/dev/null || { echo "the server (pid $2) exited before it was ready" >&2; return 1; }
        sleep 0.05
    done
    echo "the server on port $1 was not ready after 30 s" >&2
    return 1
}

status_kib() { awk -v field="$2:" '$1 == field { print $2 }' "/proc/$1/status"; }

step "tools"
if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
bash scripts/setup-venv.sh

step "building the release handler${target_triple:+ for $target_triple} and the payload writer"
if [[ -n "$target_triple" ]]; then
    rustup target list --installed | grep -qx "$target_triple" || rustup target add "$target_triple"
    cargo build --release --bin handler --target "$target_triple"
else
    cargo build --release --bin handler
fi
payload_writer="$(cargo bench --bench handler_payloads --no-run --message-format=json-render-diagnostics \
    | "$python" -c 'import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") \
            and message["target"]["name"] == "handler_payloads":
        print(message["executable"])')"
[[ -x "$payload_writer" ]] || { echo "could not find the handler_payloads binary" >&2; exit 1; }

engine_args=()
if [[ "$use_engine" == 1 ]]; then
    step "starting the local durable engine (for the valid Service Bus message)"
    mkfifo "$work/engine-in"
    "$python" scripts/local_engine.py 0 < "$work/engine-in" > "$work/engine.out" 2> "$work/engine.err" &
    pids+=($!)
    exec 7> "$work/engine-in" # held open: the engine stops when this script's end closes it
    for _ in $(seq 1 600); do
        grep -q '^LISTENING ' "$work/engine.out" 2>/dev/null && break
        sleep 0.05
    done
    engine_port="$(awk '/^LISTENING / { print $2 }' "$work/engine.out")"
    [[ -n "$engine_port" ]] || { echo "the local engine did not start" >&2; cat "$work/engine.err" >&2; exit 1; }
    engine_args=(--rpc-base-url "http://127.0.0.1:$engine_port")
fi

step "writing the host payloads to $payloads"
rm -rf "$payloads"
"$payload_writer" "$payloads" "${engine_args[@]}"

cat > "$work/post.lua" <<'EOF'
local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
EOF

# load <side> <pid> <port> <payload> <function>: one wrk run, one result line.
load() {
    local side="$1" pid="$2" port="$3" name="$4" function="$5"
    BENCH_BODY="$payloads/$name.json" wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --latency \
        -s "$work/post.lua" "http://127.0.0.1:$port/$function" > "$work/wrk.out" 2>&1 &
    local wrk_pid=$!
    sleep "$(( duration / 2 ))"
    local rss_load
    rss_load="$(status_kib "$pid" VmRSS)"
    wait "$wrk_pid"
    local rps p50 p99 errors
    rps="$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.out")"
    p50="$(awk '$1 == "50%" { print $2 }' "$work/wrk.out")"
    p99="$(awk '$1 == "99%" { print $2 }' "$work/wrk.out")"
    errors="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$work/wrk.out")"
    errors="${errors:-0}"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$name" "$function" "$rps" "$p50" "$p99" "$errors" "$rss_load" \
        | tee -a "$results"
    if [[ "$errors" != 0 ]]; then
        echo "warning: $errors non-2xx answers for $side $name" >&2
        cat "$work/wrk.out" >&2
    fi
}

printf 'side\tpayload\tfunction\trequests_per_s\tp50\tp99\tnon_2xx\trss_under_load_kib\n' > "$results"

step "Rust handler: ${duration}s per payload, $connections connections, $wrk_threads wrk thread(s)"
rust_port="$(free_port)"
FUNCTIONS_CUSTOMHANDLER_PORT="$rust_port" "$handler_bin" > "$out/handler.log" 2>&1 &
rust_pid=$!
pids+=("$rust_pid")
wait_ready "$rust_port" "$rust_pid"
rust_idle="$(status_kib "$rust_pid" VmRSS)"
while IFS=$'\t' read -r name function _; do
    load rust "$rust_pid" "$rust_port" "$name" "$function"
done < "$payloads/manifest.tsv"
rust_peak="$(status_kib "$rust_pid" VmHWM)"
kill "$rust_pid"

step "Python handler (durabletask-python executors): orchestrator and entity payloads"
python_port="$(free_port)"
"$python" scripts/bench_python_handler.py serve --port "$python_port" > "$out/python-handler.log" 2>&1 &
python_pid=$!
pids+=("$python_pid")
wait_ready "$python_port" "$python_pid"
python_idle="$(status_kib "$python_pid" VmRSS)"
while IFS=$'\t' read -r name function _; do
    case "$function" in Orchestrator | EntityFunction) load python "$python_pid" "$python_port" "$name" "$function" ;; esac
done < "$payloads/manifest.tsv"
python_peak="$(status_kib "$python_pid" VmHWM)"
kill "$python_pid"

step "start-up: exec to the first 200 on GET /, $ready_runs runs each"
rust_ready="$("$python" scripts/bench_python_handler.py ready-time --runs "$ready_runs" -- "$handler_bin")"
python_ready="$("$python" scripts/bench_python_handler.py ready-time --runs "$ready_runs" -- \
    "$python" scripts/bench_python_handler.py serve)"

step "summary"
{
    printf 'memory\trust_idle_kib\t%s\trust_peak_kib\t%s\tpython_idle_kib\t%s\tpython_peak_kib\t%s\n' \
        "$rust_idle" "$rust_peak" "$python_idle" "$python_peak"
    printf 'ready\trust\t%s\n' "$(echo "$rust_ready" | grep '^median_ms')"
    printf 'ready\tpython\t%s\n' "$(echo "$python_ready" | grep '^median_ms')"
} | tee -a "$results"
echo "rust start-up runs (ms): $(echo "$rust_ready" | grep '^runs_ms' | cut -f2)"
echo "python start-up runs (ms): $(echo "$python_ready" | grep '^runs_ms' | cut -f2)"
echo "results: $results"
