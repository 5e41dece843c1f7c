#!/bin/sh
# SPDX-License-Identifier: MIT OR Apache-2.0
# bench/cpu_at.sh REV [FEATURES]: `make bench-cpu` at an older commit, for a bisect.
# REV is exported with `git archive` to /tmp/mqe-cpu-at/src (one path, so the shared target
# dir rebuilds only what changed) and built as `make bench` builds it (profile speed, the
# bench capacities, that commit's default features or FEATURES, e.g. "--no-default-features
# --features qos2"); its own bench/mqe_bench.c and POSIX port; this tree's bench/run.py
# measures. Prints one summary line: REV instr/msg pub0 / recv0 / qos1 / qos2.
set -eu
rev=$1
features=${2:-}
here=$(cd "$(dirname "$0")/.." && pwd)
work=${MQE_CPU_AT_DIR:-/tmp/mqe-cpu-at}
src=$work/src
mkdir -p "$work"
rm -rf "$src"
mkdir -p "$src"
rm -f "$work/mqtt_engine.h"
git -C "$here" archive "$rev" | tar -x -m -C "$src"
# (tar -m: every file newer than the last build, so cargo rebuilds it and reruns build.rs.)
# The POSIX port moved from c_examples/ to ports/posix/.
port=ports/posix
[ -f "$src/$port/port_posix.c" ] || port=c_examples
# shellcheck disable=SC2086
(cd "$src" && MQE_MAX_INFLIGHT=20 MQE_MAX_RX_QOS2=1024 CARGO_TARGET_DIR="$work/target" \
  MQE_HEADER_OUT="$work/mqtt_engine.h" cargo build -q --profile speed --features header $features)
cc -std=gnu99 -O2 -g -w -I"$work" -I"$src/$port" "$src/bench/mqe_bench.c" \
  "$src/$port/port_posix.c" "$work/target/speed/libmqtt_engine.a" -o "$work/mqe_bench"
out=$(timeout 900 python3 "$here/bench/run.py" --mqe "$work/mqe_bench" --only-cpu \
  --keep "$work/callgrind-$rev" 2>"$work/run.log") || { tail -5 "$work/run.log" >&2; exit 1; }
echo "$out" | sed -n 's/^instr\/msg /'"$rev"' /p'
