#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# make toolchain-test: a fresh machine's Rust, in a temporary RUSTUP_HOME/CARGO_HOME.
#  1. The home holds the pinned toolchain (hard links to the real one: cheap) without the
#     non-host targets of rust-toolchain.toml and without rustfmt, as rustup bookkeeps it
#     (lib/rustlib/components, manifest-*, multirust-config.toml): `rustup target list
#     --installed` shows the host only, and with RUSTUP_AUTO_INSTALL=0 a thumbv6m build fails.
#  2. scripts/rust_deps.py fails at once, printing the exact command, when rustup is not on
#     PATH or cannot download (RUSTUP_DIST_SERVER on a closed port of 127.0.0.1).
#  3. scripts/rust_deps.py adds what is missing (downloads from the rustup dist server), then
#     `cargo build --release --target thumbv6m-none-eabi` succeeds, still with
#     RUSTUP_AUTO_INSTALL=0, and `cargo fmt --version` works.
# The temporary folder is removed on exit. Needs the network (static.rust-lang.org, crates.io).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
FAIL_FAST_S=60   # a failing rust_deps.py must stop within this
BUILD_TARGET=thumbv6m-none-eabi

say() { echo "toolchain-test: $*"; }
fail() { echo "toolchain-test: FAIL: $*" >&2; [ -s "${log:-}" ] && tail -n 30 "$log" >&2; exit 1; }

command -v rustup >/dev/null || fail "rustup is not on PATH: this test copies a rustup toolchain"
channel=$(sed -n 's/^channel *= *"\(.*\)"$/\1/p' rust-toolchain.toml)
targets=$(sed -n 's/^targets *= *\[\(.*\)\]$/\1/p' rust-toolchain.toml | tr -d '",')
components=$(sed -n 's/^components *= *\[\(.*\)\]$/\1/p' rust-toolchain.toml | tr -d '",')
[ -n "$channel" ] && [ -n "$targets" ] || fail "cannot read rust-toolchain.toml"
host=$(rustc -vV | sed -n 's/^host: //p')
real=$(readlink -f "$(rustc --print sysroot)")
rustup_bin=$(readlink -f "$(command -v rustup)")
[ -f "$real/lib/rustlib/components" ] || fail "$real is not a rustup toolchain"

work=$(mktemp -d "${TMPDIR:-/tmp}/mqe-toolchain-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$work/step.log
export RUSTUP_HOME=$work/rustup CARGO_HOME=$work/cargo RUSTUP_AUTO_INSTALL=0
unset RUSTUP_TOOLCHAIN RUSTUP_DIST_SERVER RUSTC RUSTDOC CARGO_TARGET_DIR
tc=$RUSTUP_HOME/toolchains/$channel-$host
mkdir -p "$RUSTUP_HOME/toolchains" "$CARGO_HOME/bin"
start=$(date +%s)
cp -al "$real" "$tc" 2>/dev/null || cp -a --reflink=auto "$real" "$tc"
# rustup rewrites its bookkeeping files: copies, so the real toolchain's stay untouched.
for f in "$tc"/lib/rustlib/components "$tc"/lib/rustlib/*.toml "$tc"/lib/rustlib/manifest-* \
  "$tc"/lib/rustlib/rust-installer-version; do
  cp --remove-destination "$real/lib/rustlib/${f##*/}" "$f"
done
# Remove components the way rustup would: their files (manifest-*), their line in
# `components`, their entry in multirust-config.toml. rm only drops the copy's links.
"$PYTHON" - "$tc" "$host" $targets <<'EOF'
import os, re, shutil, sys
tc, host, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
rustlib = os.path.join(tc, "lib", "rustlib")
drop = [("rust-std", t) for t in targets if t != host] + [("rustfmt-preview", host)]
for pkg, target in drop:
    name = f"{pkg}-{target}"
    manifest = os.path.join(rustlib, f"manifest-{name}")
    if not os.path.exists(manifest):
        continue  # already absent: a fresh machine's toolchain
    for line in open(manifest).read().split():
        kind, _, path = line.partition(":")
        full = os.path.join(tc, path)
        if kind == "dir":
            shutil.rmtree(full, ignore_errors=True)
        elif os.path.lexists(full):
            os.remove(full)
    os.remove(manifest)
    comps = os.path.join(rustlib, "components")
    kept = [c for c in open(comps).read().split("\n") if c and c != name]
    open(comps, "w").write("\n".join(kept) + "\n")
    config = os.path.join(rustlib, "multirust-config.toml")
    blocks = re.split(r"\n(?=\[\[components\]\])", open(config).read())
    blocks = [b for b in blocks if not (f'pkg = "{pkg}"' in b and f'target = "{target}"' in b)]
    open(config, "w").write("\n".join(blocks).rstrip("\n") + "\n")
EOF
cat >"$RUSTUP_HOME/settings.toml" <<EOF
version = "12"
default_toolchain = "$channel-$host"
profile = "minimal"
auto_self_update = "disable"

[overrides]
EOF
for proxy in rustup cargo rustc rustdoc cargo-clippy clippy-driver cargo-fmt rustfmt; do
  ln -s "$rustup_bin" "$CARGO_HOME/bin/$proxy"
done
# PATH: the temporary proxies first; no directory holding another rustup/cargo.
path=$CARGO_HOME/bin
nopath=""
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -n "$d" ] && [ ! -x "$d/rustup" ] && [ ! -x "$d/cargo" ] && [ ! -x "$d/rustc" ] &&
    { path=$path:$d; nopath=${nopath:+$nopath:}$d; }
done
export PATH=$path
[ "$(command -v cargo)" = "$CARGO_HOME/bin/cargo" ] || fail "cargo on PATH is $(command -v cargo)"
case "$(rustc --print sysroot)" in "$RUSTUP_HOME"/*) ;; *) fail "rustc is not the copy's" ;; esac

# --- 1. the starting point: host only, the build that needs a target fails ---
installed=$(rustup target list --installed --toolchain "$channel" | tr '\n' ' ')
[ "$installed" = "$host " ] || fail "the copy has targets '$installed', expected the host only"
if rustup component list --installed --toolchain "$channel" | grep -q '^rustfmt'; then
  fail "the copy still has rustfmt"
fi
if cargo build --release --target "$BUILD_TARGET" --target-dir "$work/target" >"$log" 2>&1; then
  fail "cargo build --target $BUILD_TARGET succeeded before rust_deps.py added the target"
fi
say "copy made in $(($(date +%s) - start)) s: $channel with $host only; the $BUILD_TARGET build fails ($(grep -m1 -o "can't find crate for \`core\`\|not installed" "$log" || echo error))"

# --- 2. fail fast, with the exact command ---
expect_fail() { # WHAT EXPECTED_COMMAND_LINE COMMAND...
  local what=$1 expected=$2; shift 2
  local t0=$(date +%s) status=0
  timeout $((FAIL_FAST_S + 10)) "$@" >"$log" 2>&1 || status=$?
  local took=$(($(date +%s) - t0))
  [ "$status" != 0 ] || fail "$what: rust_deps.py succeeded"
  [ "$status" != 124 ] && [ "$took" -le "$FAIL_FAST_S" ] || fail "$what: took $took s (status $status)"
  grep -qxF "  $expected" "$log" || fail "$what: no line '  $expected'"
  say "$what: failed in $took s, printing: $expected"
}
all_targets=$(echo $targets | tr ' ' ',')
all_components=$(echo $components | tr ' ' ',')
expect_fail "without rustup on PATH" \
  "rustup toolchain install $channel --profile minimal --target $all_targets --component $all_components" \
  env PATH="$nopath" "$(command -v "$PYTHON")" scripts/rust_deps.py
closed_port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
expect_fail "with an unreachable dist server" "rustup target add --toolchain $channel $BUILD_TARGET" \
  env RUSTUP_DIST_SERVER="http://127.0.0.1:$closed_port" RUSTUP_MAX_RETRIES=0 \
  "$PYTHON" scripts/rust_deps.py --targets "$BUILD_TARGET"
installed=$(rustup target list --installed --toolchain "$channel" | tr '\n' ' ')
[ "$installed" = "$host " ] || fail "a failed add left targets: $installed"

# --- 3. the install step, then the build that needs it ---
t0=$(date +%s)
"$PYTHON" scripts/rust_deps.py >"$log" 2>&1 || fail "scripts/rust_deps.py"
added=$(($(date +%s) - t0))
for t in $targets; do
  rustup target list --installed --toolchain "$channel" | grep -qx "$t" || fail "$t not installed"
done
[ "$RUSTUP_AUTO_INSTALL" = 0 ] || fail "RUSTUP_AUTO_INSTALL changed"
t0=$(date +%s)
env RUSTUP_AUTO_INSTALL=0 cargo build --locked --release --target "$BUILD_TARGET" \
  --target-dir "$work/target" >"$log" 2>&1 || fail "cargo build --target $BUILD_TARGET after rust_deps.py"
[ -f "$work/target/$BUILD_TARGET/release/libmqtt_engine.a" ] || fail "no $BUILD_TARGET archive"
cargo fmt --version >"$log" 2>&1 || fail "cargo fmt after rust_deps.py"
say "rust_deps.py added $(echo $targets) and rustfmt in $added s; with RUSTUP_AUTO_INSTALL=0 the $BUILD_TARGET build passed in $(($(date +%s) - t0)) s"
say "PASS in $(($(date +%s) - start)) s"
