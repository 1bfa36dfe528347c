#!/usr/bin/env bash
# Benchmarks the Rust executors against durabletask-python 1.12.0 on the same request bytes.
#
# Usage: bash scripts/bench-executors.sh                       (from anywhere)
#        BENCH_SAMPLES=21 BENCH_MIN_SAMPLE_MS=100 bash scripts/bench-executors.sh
#
# 1. sets up the Python virtualenv (scripts/setup-venv.sh);
# 2. builds the `executor_report` bench binary (release profile) and writes the request vectors to
#    target/bench-vectors/ (raw protobuf, one file per case, plus manifest.json);
# 3. times one work item (decode -> execute -> encode) per case on each side, case by case, so both sides see
#    the same machine load; prints the medians and the Python/Rust ratio;
# 4. runs each case once in a fresh process per side and prints the peak RSS (VmHWM) and the RSS before the
#    request was loaded, to show how memory grows with history;
# 5. prints where the Rust time goes (decode / execute / encode).
# The criterion benches over the same vectors: cargo bench -p durabletask-sdk --bench executors
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${DURABLE_VENV:-$root/.venv}/bin/python"
samples="${BENCH_SAMPLES:-11}"
min_sample_ms="${BENCH_MIN_SAMPLE_MS:-50}"
goal_case="chain_1000"
goal_ratio=50
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step() { printf '\n==> %s\n' "$*" >&2; }

step "python virtualenv"
bash scripts/setup-venv.sh

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

step "timing one work item per case (median of $samples samples of >= ${min_sample_ms} ms each)"
for case in $cases; do
    "$rust_bin" time --samples "$samples" --min-sample-ms "$min_sample_ms" "$case" >> "$work/rust.tsv"
    "$python" scripts/bench_python_executors.py time --samples "$samples" --min-sample-ms "$min_sample_ms" "$case" \
        >> "$work/python.tsv"
    printf '  %s done\n' "$case" >&2
done

step "peak memory, one run per fresh process"
for case in chain_100 chain_1000 chain_10000 fan_out_1000 entity_batch_1000; do
    "$rust_bin" rss "$case" >> "$work/rust-rss.tsv"
    "$python" scripts/bench_python_executors.py rss "$case" >> "$work/python-rss.tsv"
done

step "where the Rust time goes"
"$rust_bin" breakdown --samples "$samples" --min-sample-ms "$min_sample_ms" > "$work/breakdown.tsv"

printf '\n## Executors: one work item (decode + execute + encode), median per run\n\n'
awk -F'\t' -v goal_case="$goal_case" -v goal="$goal_ratio" '
    NR == FNR { python[$1] = $2; next }
    FNR == 1 {
        printf "| %-17s | %12s | %13s | %11s | %s |\n", "case", "Rust", "Python 1.12.0", "Python/Rust", "answer (both sides)"
        printf "|-------------------|-------------:|--------------:|------------:|---|\n"
    }
    {
        ratio = python[$1] / $2
        printf "| %-17s | %9.1f us | %10.1f us | %10.1fx | %s |\n", $1, $2, python[$1], ratio, $5
        if ($1 == goal_case) goal_ratio_seen = ratio
    }
    END {
        verdict = goal_ratio_seen >= goal ? "met" : "NOT met"
        printf "\nGoal: >= %dx faster than Python on %s: %s (%.1fx)\n", goal, goal_case, verdict, goal_ratio_seen
    }' "$work/python.tsv" "$work/rust.tsv"

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

printf '\n## Rust: median time of each step\n\n'
awk -F'\t' '
    FNR == 1 {
        printf "| %-17s | %12s | %12s | %12s |\n", "case", "decode", "execute", "encode"
        printf "|-------------------|-------------:|-------------:|-------------:|\n"
    }
    { printf "| %-17s | %9.1f us | %9.1f us | %9.1f us |\n", $1, $2, $3, $4 }
' "$work/breakdown.tsv"
