#!/usr/bin/env bash
# Benchmarks the Rust executors against durabletask-python 1.12.0 and the JavaScript SDK
# (@microsoft/durabletask-js) on the same request bytes.
#
# Usage: bash scripts/bench-executors.sh                       (from anywhere)
#        BENCH_SAMPLES=21 BENCH_MIN_SAMPLE_MS=100 bash scripts/bench-executors.sh
#        BENCH_JS=0 bash scripts/bench-executors.sh             (without the JavaScript column)
#        BENCH_ONLY=pipe bash scripts/bench-executors.sh        (only step 6, the line pipe: a few minutes)
#
# 1. sets up the Python virtualenv (scripts/setup-venv.sh) and installs @microsoft/durabletask-js (pinned below)
#    into target/bench-js with npm;
# 2. builds the `executor_report` bench binary (release profile) and writes the request vectors to
#    target/bench-vectors/ (raw protobuf, one file per case, plus manifest.json);
# 3. times one work item (decode -> execute -> encode) per case on each side, case by case, so all sides see
#    the same machine load; prints the medians, the ratios to Rust, and the instructions per work item of Rust
#    and (but for chain_10000) Python with their ratio (callgrind, which does not move with the load);
# 4. runs each case once in a fresh process per side and prints the peak RSS (VmHWM) and the RSS before the
#    request was loaded, to show how memory grows with history;
# 5. prints where the Rust time and instructions go (decode / execute / encode);
# 6. times one work item per case through the line pipe (the serve protocol of crates/conformance/src/serve.rs:
#    a JSON line with the base64 request in, a JSON line with the base64 response out) of `executor_report pipe`
#    and `bench_python_executors.py pipe`, driven by `bench_python_executors.py pipe-time`, beside both sides'
#    in-process time measured in the same pass, and prints the ratios.
# Every process measured runs with glibc's heap trimming and mmap threshold raised (MALLOC_TRIM_THRESHOLD_,
# MALLOC_MMAP_THRESHOLD_), as in a long-running worker whose heap has reached its steady size: otherwise a loop
# that frees a large request each iteration gives its pages back and faults them in again, which measures the
# kernel rather than the code.
# The criterion benches over the same vectors: cargo bench -p durabletask-sdk --bench executors
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${DURABLE_VENV:-$root/.venv}/bin/python"
samples="${BENCH_SAMPLES:-11}"
min_sample_ms="${BENCH_MIN_SAMPLE_MS:-50}"
use_js="${BENCH_JS:-1}"
only="${BENCH_ONLY:-}"
[[ -z "$only" || "$only" == pipe ]] || { echo "BENCH_ONLY is either unset or 'pipe', not '$only'" >&2; exit 1; }
js_package="@microsoft/durabletask-js@0.4.0"
js_dir="$root/target/bench-js"
goal_case="chain_1000"
goal_ratio=100
pipe_goal_ratio=40
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_MMAP_THRESHOLD_=1073741824

step() { printf '\n==> %s\n' "$*" >&2; }

step "python virtualenv"
bash scripts/setup-venv.sh

if [[ "$use_js" == 1 && -z "$only" ]]; then
    step "JavaScript SDK ($js_package) in $js_dir"
    if ! command -v npm >/dev/null; then
        apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
    fi
    if [[ ! -f "$js_dir/node_modules/@microsoft/durabletask-js/package.json" ]]; then
        mkdir -p "$js_dir"
        npm install --prefix "$js_dir" --no-save --no-audit --no-fund --loglevel=error "$js_package" >&2
    fi
fi
if [[ -z "$only" ]] && ! command -v valgrind >/dev/null; then
    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi

step "building the Rust bench binary (release)"
rust_bin="$(cargo bench -p durabletask-sdk --bench executor_report --no-run --message-format=json-render-diagnostics \
    | "$python" -c 'import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") \
            and message["target"]["name"] == "executor_report":
        print(message["executable"])')"
[[ -x "$rust_bin" ]] || { echo "could not find the executor_report binary" >&2; exit 1; }

step "writing the request vectors"
"$rust_bin" vectors >&2
cases="$("$python" -c 'import json, sys; print(" ".join(e["case"] for e in json.load(open(sys.argv[1]))))' \
    target/bench-vectors/manifest.json)"

# Step 6: each case through the line pipe, Rust's and Python's servers in turn, each beside its in-process time (so
# that the difference, the pipe's own cost per line, is taken at the same load); then the table.
pipe_section() {
    local case pipe_load_before pipe_load_after
    local timing=(--samples "$samples" --min-sample-ms "$min_sample_ms")
    local bench_python=("$python" scripts/bench_python_executors.py)
    pipe_load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
    step "one work item per case through the line pipe (median of $samples samples of >= ${min_sample_ms} ms each)"
    for case in $cases; do
        "$rust_bin" time "${timing[@]}" "$case" >> "$work/rust-in-process.tsv"
        "${bench_python[@]}" pipe-time --server "$rust_bin pipe" "${timing[@]}" "$case" >> "$work/rust-pipe.tsv"
        "${bench_python[@]}" time "${timing[@]}" "$case" >> "$work/python-in-process.tsv"
        "${bench_python[@]}" pipe-time --server "${bench_python[*]} pipe" "${timing[@]}" "$case" \
            >> "$work/python-pipe.tsv"
        printf '  %s done (load average %s)\n' "$case" "$(cut -d' ' -f1 /proc/loadavg)" >&2
    done
    pipe_load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

    printf '\n## Executors through the line pipe: one work item per line, median per line\n\n'
    printf 'Each side serves JSON lines with base64 protobuf on stdin/stdout (one flush per answer); the driver\n'
    printf 'writes K copies of the request line from a thread of its own and reads the K answers; time per line =\n'
    printf 'elapsed / K. In-process: the same work item without JSON, base64 and the pipe, measured just before.\n'
    printf 'Load average (1, 5, 15 min) before: %s; after: %s.\n\n' "$pipe_load_before" "$pipe_load_after"
    awk -F'\t' -v goal_case="$goal_case" -v goal="$pipe_goal_ratio" '
        FILENAME == ARGV[1] { rust_in[$1] = $2; next }
        FILENAME == ARGV[2] { python_in[$1] = $2; next }
        FILENAME == ARGV[3] { python_pipe[$1] = $2; python_answer[$1] = $5; next }
        FNR == 1 {
            printf "| %-17s | %12s | %12s | %13s | %14s | %10s | %13s | %s |\n", "case", "Rust pipe", \
                "Rust in-proc", "Python pipe", "Python in-proc", "pipe ratio", "in-proc ratio", "answer (both sides)"
            printf "|-------------------|-------------:|-------------:|--------------:|---------------:"
            printf "|-----------:|--------------:|---|\n"
        }
        {
            ratio = python_pipe[$1] / $2
            answer = (python_answer[$1] == $5) ? $5 : "DIFFER: Rust " $5 "; Python " python_answer[$1]
            printf "| %-17s | %9.1f us | %9.1f us | %10.1f us | %11.1f us | %9.1fx | %12.1fx | %s |\n", $1, $2, \
                rust_in[$1], python_pipe[$1], python_in[$1], ratio, python_in[$1] / rust_in[$1], answer
            if ($1 == goal_case) goal_ratio_seen = ratio
        }
        END {
            verdict = goal_ratio_seen >= goal ? "met" : "NOT met"
            printf "\nGoal: through the line pipe >= %dx faster than Python on %s: %s (%.1fx)\n", goal, goal_case, \
                verdict, goal_ratio_seen
        }' "$work/rust-in-process.tsv" "$work/python-in-process.tsv" "$work/python-pipe.tsv" "$work/rust-pipe.tsv"
}

if [[ "$only" == pipe ]]; then
    pipe_section
    exit 0
fi

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
step "timing one work item per case (median of $samples samples of >= ${min_sample_ms} ms each)"
: > "$work/js.tsv"
for case in $cases; do
    "$rust_bin" time --samples "$samples" --min-sample-ms "$min_sample_ms" "$case" >> "$work/rust.tsv"
    "$python" scripts/bench_python_executors.py time --samples "$samples" --min-sample-ms "$min_sample_ms" "$case" \
        >> "$work/python.tsv"
    if [[ "$use_js" == 1 ]]; then
        NODE_PATH="$js_dir/node_modules" node scripts/bench_js_executors.js time --samples "$samples" \
            --min-sample-ms "$min_sample_ms" "$case" >> "$work/js.tsv"
    fi
    printf '  %s done (load average %s)\n' "$case" "$(cut -d' ' -f1 /proc/loadavg)" >&2
done

load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
step "instructions per work item (callgrind)"
# count_ir CASE STEP: the instructions of one run of STEP, from 10 runs counted by callgrind.
count_ir() {
    local collected
    collected="$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='*counted_*' \
        "$rust_bin" count "$1" "$2" 10 2>&1 | awk '/Collected :/ { print $NF }')"
    echo $(( collected / 10 ))
}
for case in $cases; do
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$case" "$(count_ir "$case" work)" "$(count_ir "$case" decode)" \
        "$(count_ir "$case" execute)" "$(count_ir "$case" encode)" "$(count_ir "$case" prost_decode)" >> "$work/ir.tsv"
done
# python_ir CASE: Python's instructions per work item, from whole-process counts with 1 and 3 extra work items
# (start-up and imports cancel out). chain_10000 is left out: ~2 G instructions a run under callgrind. A fixed
# hash seed makes the count repeat exactly (with random seeds chain_10 moved between 2.0 and 2.6 M).
python_instructions() {  # CASE ITERATIONS: the whole process's instructions
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" scripts/bench_python_executors.py count "$1" \
        --iterations "$2" 2>&1 | awk '/Collected :/ { print $NF }'
}
python_ir() {
    local one three
    one="$(python_instructions "$1" 1)"
    three="$(python_instructions "$1" 3)"
    echo $(( (three - one) / 2 ))
}
: > "$work/python-ir.tsv"
for case in ${BENCH_PYTHON_IR_CASES:-chain_10 chain_100 chain_1000 fan_out_1000 entity_batch_1000}; do
    printf '%s\t%s\n' "$case" "$(python_ir "$case")" >> "$work/python-ir.tsv"
done

step "peak memory, one run per fresh process"
for case in chain_100 chain_1000 chain_10000 fan_out_1000 entity_batch_1000; do
    "$rust_bin" rss "$case" >> "$work/rust-rss.tsv"
    "$python" scripts/bench_python_executors.py rss "$case" >> "$work/python-rss.tsv"
done

step "where the Rust time goes"
"$rust_bin" breakdown --samples "$samples" --min-sample-ms "$min_sample_ms" > "$work/breakdown.tsv"

printf '\n## Executors: one work item (decode + execute + encode), median per run\n\n'
printf 'Load average (1, 5, 15 min) before the timings: %s; after: %s.\n\n' "$load_before" "$load_after"
awk -F'\t' -v goal_case="$goal_case" -v goal="$goal_ratio" '
    FILENAME == ARGV[1] { python[$1] = $2; next }
    FILENAME == ARGV[2] { js[$1] = $2; next }
    FILENAME == ARGV[3] { ir[$1] = $2; next }
    FILENAME == ARGV[4] { python_ir[$1] = $2; next }
    FNR == 1 {
        printf "| %-17s | %12s | %10s | %13s | %11s | %10s | %9s | %12s | %8s | %s |\n", "case", "Rust", "Rust Ir", \
            "Python 1.12.0", "Python/Rust", "Python Ir", "Ir ratio", "JS 0.4.0", "JS/Rust", "answer (all sides)"
        printf "|-------------------|-------------:|-----------:|--------------:|------------:|-----------:|----------:|-------------:|---------:|---|\n"
    }
    {
        ratio = python[$1] / $2
        js_time = ($1 in js) ? sprintf("%9.1f us", js[$1]) : "-"
        js_ratio = ($1 in js) ? sprintf("%7.1fx", js[$1] / $2) : "-"
        py_ir = ($1 in python_ir) ? sprintf("%.1f M", python_ir[$1] / 1e6) : "-"
        ir_ratio = ($1 in python_ir) ? sprintf("%.1fx", python_ir[$1] / ir[$1]) : "-"
        printf "| %-17s | %9.1f us | %10s | %10.1f us | %10.1fx | %10s | %9s | %12s | %8s | %s |\n", $1, $2, \
            sprintf("%.2f M", ir[$1] / 1e6), python[$1], ratio, py_ir, ir_ratio, js_time, js_ratio, $5
        if ($1 == goal_case) goal_ratio_seen = ratio
    }
    END {
        verdict = goal_ratio_seen >= goal ? "met" : "NOT met"
        printf "\nGoal: >= %dx faster than Python on %s: %s (%.1fx)\n", goal, goal_case, verdict, goal_ratio_seen
    }' "$work/python.tsv" "$work/js.tsv" "$work/ir.tsv" "$work/python-ir.tsv" "$work/rust.tsv"

printf '\n## Peak RSS (VmHWM) of one run in a fresh process; growth = peak - RSS before loading the request\n\n'
awk -F'\t' '
    NR == FNR { peak[$1] = $2; base[$1] = $3; next }
    FNR == 1 {
        printf "| %-17s | %12s | %12s | %12s | %13s |\n", "case", "Rust peak", "Rust growth", "Python peak", "Python growth"
        printf "|-------------------|-------------:|-------------:|-------------:|--------------:|\n"
    }
    { printf "| %-17s | %8.1f MiB | %8.1f MiB | %8.1f MiB | %9.1f MiB |\n",
        $1, $2 / 1024, ($2 - $3) / 1024, peak[$1] / 1024, (peak[$1] - base[$1]) / 1024 }
' "$work/python-rss.tsv" "$work/rust-rss.tsv"

printf '\n## Rust: median time and instructions of each step\n\n'
printf 'decode: for orchestrations the framing and every field but the history (the events are read while\n'
printf 'replaying, inside execute); prost decode: the whole request decoded by prost, for comparison.\n\n'
awk -F'\t' '
    FILENAME == ARGV[1] { ir[$1] = sprintf("%.2f M | %.2f M | %.3f M | %.2f M", $3 / 1e6, $4 / 1e6, $5 / 1e6, $6 / 1e6); next }
    FNR == 1 {
        printf "| %-17s | %10s | %10s | %9s | %12s | %s |\n", "case", "decode", "execute", "encode", "prost decode", \
            "Ir: decode | execute | encode | prost decode"
        printf "|-------------------|-----------:|-----------:|----------:|-------------:|---|\n"
    }
    { printf "| %-17s | %7.1f us | %7.1f us | %6.1f us | %9.1f us | %s |\n", $1, $2, $3, $4, $5, ir[$1] }
' "$work/ir.tsv" "$work/breakdown.tsv"

pipe_section
