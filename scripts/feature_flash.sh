#!/bin/sh
# SPDX-License-Identifier: MIT OR Apache-2.0
# Flash of each optional facility on the Cortex-M4 image: full.elf (tests/cortex_m, which calls
# every function the header declares) linked against the library and header built with each
# feature set, and its text + data compared with the set without it. Builds in target/features
# and build/features, never touching the default build. Usage: scripts/feature_flash.sh SET...
# where SET is "name=feature,feature" (an empty list is --no-default-features alone).
set -eu
M4=thumbv7em-none-eabihf
CFLAGS="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os -std=gnu11 -Wall -Wextra -Werror -ffunction-sections -fdata-sections -Itests/cortex_m"
LDFLAGS="--specs=nano.specs --specs=nosys.specs -nostartfiles -T tests/cortex_m/mps2_an386.ld -Wl,--gc-sections -Wl,--no-warn-execstack"
MEM="-Wl,-u,__aeabi_memcpy -Wl,-u,__aeabi_memcpy4 -Wl,-u,__aeabi_memcpy8 -Wl,-u,__aeabi_memmove -Wl,-u,__aeabi_memmove4 -Wl,-u,__aeabi_memmove8 -Wl,-u,__aeabi_memset -Wl,-u,__aeabi_memset4 -Wl,-u,__aeabi_memset8 -Wl,-u,__aeabi_memclr -Wl,-u,__aeabi_memclr4 -Wl,-u,__aeabi_memclr8 -Wl,-u,memcmp -lc"
SRC="tests/cortex_m/app_full.c tests/cortex_m/cloud_calls.c tests/cortex_m/broker.c tests/cortex_m/stack_meter.c tests/cortex_m/startup.c tests/cortex_m/semihost.c tests/cortex_m/board.c"
for set in "$@"; do
  name=${set%%=*}
  features=${set#*=}
  out=build/features/$name
  mkdir -p "$out"
  MQE_HEADER_OUT=$PWD/$out/mqtt_engine.h cargo build -q --no-default-features --features "header${features:+,$features}" --target-dir target/features/host
  cargo build -q --release --no-default-features ${features:+--features "$features"} --target $M4 --target-dir target/features/m4
  arm-none-eabi-gcc $CFLAGS -I"$out" $LDFLAGS $SRC $MEM target/features/m4/$M4/release/libmqtt_engine.a -o "$out/full.elf"
  # text + data: what goes to flash.
  arm-none-eabi-size "$out/full.elf" | awk -v n="$name" 'NR==2 {print n, $1 + $2}'
done
