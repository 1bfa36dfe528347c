#!/usr/bin/env bash
# Fuzzes every decoder of the handler with cargo-fuzz (libFuzzer), one target after the other
# (see BENCHMARKS.md, "Fuzzing", and fuzz/src/targets.rs for what each target checks).
#
# Usage: bash scripts/fuzz.sh [seconds-per-target] [target...]      (default: 60 seconds, every target)
#        bash scripts/fuzz.sh seeds                                  (only rewrite the seed corpora)
#        bash scripts/fuzz.sh replay                                 (stable toolchain: replay every corpus)
#
# - cargo-fuzz needs nightly flags (-Zsanitizer, -Cpasses=sancov-module); with no nightly toolchain they are
#   enabled on the stable one with RUSTC_BOOTSTRAP=1 (set FUZZ_TOOLCHAIN=nightly to use a nightly instead);
# - `cargo fuzz build` puts the targets in the shared target dir (target/x86_64-unknown-linux-gnu/release/<target>),
#   with AddressSanitizer, debug assertions and overflow checks (cargo-fuzz's default); the script then runs those
#   binaries directly with the options below (the same as `cargo fuzz run <target> <corpus>... -- <options>`);
# - each run reads the committed seeds (fuzz/corpus/<target>) and grows a working corpus in
#   target/fuzz-corpus/<target>; crashing inputs go to fuzz/artifacts/<target>/;
# - libFuzzer options: -timeout=10 (an input running longer is a hang), -rss_limit_mb=2048, -max_len=65536;
# - prints one line per target: runs, executions/s, coverage, corpus size, and OK or the finding.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
targets_all=(envelope binding_values parse_event orchestrator_app orchestrator_chain orchestrator_script entity_batch)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

step() { printf '\n==> %s\n' "$*" >&2; }

write_seeds() {
    step "writing the seed corpora from real payloads"
    local payloads="$root/target/fuzz-seed-payloads"
    local writer
    writer="$(cargo bench --bench handler_payloads --no-run --message-format=json-render-diagnostics \
        | python3 -c 'import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") \
            and message["target"]["name"] == "handler_payloads":
        print(message["executable"])')"
    rm -rf "$payloads"
    "$writer" "$payloads" --rpc-base-url http://127.0.0.1:4001
    cargo run --quiet --manifest-path fuzz/Cargo.toml --example seed_corpus -- "$payloads"
}

case "${1:-}" in
    seeds)
        write_seeds
        exit 0
        ;;
    replay)
        cargo run --quiet --manifest-path fuzz/Cargo.toml --example replay -- all
        exit 0
        ;;
esac

seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [seconds-per-target] [target...]" >&2; exit 2; }
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${targets_all[@]}")

if ! command -v cargo-fuzz >/dev/null; then
    step "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi
toolchain=()
if [[ "${FUZZ_TOOLCHAIN:-stable}" == nightly ]]; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
[[ -n "$(ls -A fuzz/corpus/envelope 2>/dev/null)" ]] || write_seeds

step "building the fuzz targets"
(cd fuzz && cargo "${toolchain[@]}" fuzz build)
# Run the binaries just built (what `cargo fuzz run` runs), so that a source change elsewhere in the tree during
# a long session does not rebuild between targets.
binaries="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"

status=0
summary=()
for target in "${targets[@]}"; do
    step "$target: ${seconds}s"
    working="$root/target/fuzz-corpus/$target"
    artifacts="$root/fuzz/artifacts/$target"
    mkdir -p "$working" "$artifacts"
    log="$root/target/fuzz-logs/$target.log"
    mkdir -p "$(dirname "$log")"
    set +e
    "$binaries/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 "$working" "$root/fuzz/corpus/$target" > "$log" 2>&1
    code=$?
    set -e
    runs="$(awk '/stat::number_of_executed_units:/ { print $2 }' "$log")"
    speed="$(awk '/stat::average_exec_per_sec:/ { print $2 }' "$log")"
    coverage="$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{ print $2 }')"
    corpus="$(ls "$working" | wc -l)"
    if [[ $code -eq 0 ]]; then
        verdict="OK"
    else
        verdict="FINDING (exit $code): $(grep -m1 -E 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer' "$log" || true)"
        status=1
    fi
    line="$target: ${runs:-?} runs, ${speed:-?} exec/s, cov ${coverage:-?}, corpus $corpus, $verdict (log: $log)"
    echo "$line"
    summary+=("$line")
done

step "summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$status"
