#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: sets up the Python virtualenv with the local durable engine
# (durabletask 1.12.0), builds the workspace, then runs lint, unit, conformance, router and end-to-end tests, and
# builds and checks the deployment package.
# Usage: bash scripts/test.sh            (from anywhere)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

step "local settings (local-host reads the git-ignored local.settings.json; a fresh clone starts from the template)"
[[ -f local.settings.json ]] || cp local.settings.example.json local.settings.json

step "python virtualenv (local engine + reference executors)"
bash scripts/setup-venv.sh

step "samples: the committed demo traffic and expectations are what scripts/generate_samples.py writes"
python3 scripts/generate_samples.py --check

step "format check"
cargo fmt --all -- --check

step "build (the end-to-end tests run the real handler and local-host binaries)"
cargo build --workspace --bins --locked

step "function folders: the committed */function.json are the ones the handler generates (handler write-function-folders)"
"${CARGO_TARGET_DIR:-$root/target}/debug/handler" write-function-folders --check "$root"

step "replay check: the built handler replays the recorded orchestration histories (tests/histories)"
"${CARGO_TARGET_DIR:-$root/target}/debug/handler" replay-check tests/histories

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo test --workspace --locked

step "fuzz targets still compile (their own workspace: fuzz/; after a dependency change run 'cargo metadata' in fuzz/ to update its Cargo.lock)"
cargo check --manifest-path fuzz/Cargo.toml --locked --quiet

step "the SDK's azure-identity feature (scheduler credentials from Microsoft's azure_identity crate)"
cargo clippy -p durabletask-sdk --features azure-identity --lib --tests --locked -- -D warnings
cargo test -p durabletask-sdk --features azure-identity --lib --locked client::

step "deployment package (dist/app.zip: the statically linked handler, host.json, the function folders)"
bash scripts/package.sh

step "package tests (contents, ELF, .funcignore, the unpacked app under local-host)"
cargo test --locked --test package -- --ignored
