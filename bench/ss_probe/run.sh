#!/bin/sh
# Flash that sequential-storage's queue (push, iterate, pop) adds to a Cortex-M4 image, and
# whether it reaches core::panicking. Prints the two `size` lines: the stub, then the queue.
set -e
cd "$(dirname "$0")"
cargo build -q --release --target thumbv7em-none-eabihf --target-dir ../../target/ss_probe
lib=../../target/ss_probe/thumbv7em-none-eabihf/release/libssprobe.a
out=../../target/ss_probe
flags="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os -ffunction-sections -Wl,--gc-sections --specs=nano.specs --specs=nosys.specs"
arm-none-eabi-gcc $flags main.c stub.c -o $out/base.elf 2>/dev/null
arm-none-eabi-gcc $flags main.c "$lib" -o $out/probe.elf 2>/dev/null
arm-none-eabi-size $out/base.elf $out/probe.elf
echo "panic symbols in the queue image: $(arm-none-eabi-nm -C $out/probe.elf | grep -c -E 'core::panicking|core::fmt' || true)"
