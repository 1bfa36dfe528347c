#!/usr/bin/env bash
# Builds the statically linked linux-x64 handler and assembles exactly what a zip deploy to a Function App uploads
# into dist/app.zip: host.json, the function folders (<Name>/function.json) and the handler at host.json's
# customHandler.description.defaultExecutablePath (mode 755). Nothing else: no sources, settings or samples.
# Prints the archive's size and contents.
#
# Usage: bash scripts/package.sh                      (from anywhere; writes dist/app.zip)
#        PACKAGE_OUT=/tmp/app.zip bash scripts/package.sh
#
# Needs rustup (it adds the x86_64-unknown-linux-musl target when missing), python3 (to write the zip) and a C
# compiler for musl, for mimalloc, the build's allocator (src/allocator.rs): musl-gcc (Debian/Ubuntu: musl-tools,
# installed here when missing and apt-get can run) or x86_64-linux-musl-gcc (a musl cross toolchain, e.g. on
# macOS `brew install filosottile/musl-cross/musl-cross`). The handler is linked by rust-lld (.cargo/config.toml).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

target="x86_64-unknown-linux-musl"
out="${PACKAGE_OUT:-$root/dist/app.zip}"

step() { printf '\n==> %s\n' "$*"; }

step "Rust target $target"
if ! command -v rustup > /dev/null; then
    echo "package.sh: rustup is not installed; it is needed to add the $target standard library" >&2
    echo "            (install Rust from https://rustup.rs, or add the target with your distribution's tools)" >&2
    exit 1
fi
if rustup target list --installed | grep -qx "$target"; then
    echo "installed"
else
    rustup target add "$target"
fi

step "C compiler for musl (mimalloc)"
if command -v x86_64-linux-musl-gcc > /dev/null || command -v musl-gcc > /dev/null; then
    command -v x86_64-linux-musl-gcc musl-gcc | head -1
elif command -v apt-get > /dev/null && [[ "$(id -u)" == 0 ]]; then
    apt-get install -y -qq musl-tools > /dev/null || { apt-get update -qq && apt-get install -y -qq musl-tools > /dev/null; }
    command -v musl-gcc
else
    echo "package.sh: no C compiler for musl (musl-gcc or x86_64-linux-musl-gcc); the handler's allocator, mimalloc," >&2
    echo "            is C. Debian/Ubuntu: sudo apt-get install musl-tools; macOS: brew install" >&2
    echo "            filosottile/musl-cross/musl-cross; Windows: run this script in WSL." >&2
    exit 1
fi

step "building the handler (release, $target, statically linked)"
cargo build --release --locked --target "$target" --bin handler
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
binary="$target_dir/$target/release/handler"
[[ -x "$binary" ]] || { echo "package.sh: the build left no executable at $binary" >&2; exit 1; }

step "assembling $out"
python3 - "$root" "$binary" "$out" <<'PY'
import json
import os
import sys
import zipfile

root, binary, out = sys.argv[1:4]


def fail(message):
    print(f"package.sh: {message}", file=sys.stderr)
    sys.exit(1)


with open(os.path.join(root, "host.json"), encoding="utf-8") as file:
    host = json.load(file)
executable = host.get("customHandler", {}).get("description", {}).get("defaultExecutablePath")
if not isinstance(executable, str) or not executable.strip():
    fail("host.json has no customHandler.description.defaultExecutablePath")
executable = executable.strip().replace("\\", "/")
if executable.startswith("/") or ".." in executable.split("/"):
    fail(f"defaultExecutablePath {executable!r} must be a path inside the app root")

folders = sorted(
    name
    for name in os.listdir(root)
    if not name.startswith(".") and os.path.isfile(os.path.join(root, name, "function.json"))
)
if not folders:
    fail("no function folders (<Name>/function.json) in the app root")

# (name in the archive, file on disk, unix mode); sorted, with a fixed timestamp, so the same sources give the
# same archive.
entries = [("host.json", os.path.join(root, "host.json"), 0o644)]
entries += [(f"{name}/function.json", os.path.join(root, name, "function.json"), 0o644) for name in folders]
entries.append((executable, binary, 0o755))
entries.sort()

os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
partial = out + ".partial"
with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
    for name, path, mode in entries:
        info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
        info.create_system = 3  # unix: the mode below is kept (the host only restores +x by itself on Linux Consumption)
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as file:
            archive.writestr(info, file.read())
os.replace(partial, out)

with zipfile.ZipFile(out) as archive:
    print(f"{'size':>10}  {'packed':>10}  mode  name")
    for info in archive.infolist():
        print(f"{info.file_size:>10}  {info.compress_size:>10}  {oct(info.external_attr >> 16 & 0o777)[2:]}   {info.filename}")
size = os.path.getsize(out)
print(f"\n{out}: {size} bytes ({size / 1048576:.1f} MiB), {len(entries)} files, {len(folders)} functions")
PY
