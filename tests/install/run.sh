#!/usr/bin/env bash
# make install-test: installs the library into temporary prefixes and consumes it the ways
# SDKs do. Fails on the first wrong step.
#  1. make install PREFIX=<tmp>: exactly the five files; the header is the committed one.
#  2. pkg-config: the exact flags and version; consumer.c built with them alone, strict C99.
#  3. CMake: find_package(mqtt_engine <major.minor>) builds the same consumer through the
#     imported target mqtt_engine::mqtt_engine; a newer version is refused; the prefix still
#     works after it is moved (the config finds its paths relative to itself).
#  4. Both consumers run without a broker (argument checks) and against mosquitto
#     (scripts/with_broker.py: QoS 1 round trip and ping).
#  5. make install DESTDIR=<tmp> PREFIX=/opt/mqe: staged under DESTDIR, .pc says /opt/mqe.
#  6. make install TARGET=thumbv7em-none-eabihf: an ARM archive that arm-none-eabi-gcc links
#     (C library first, --gc-sections) with the installed .pc and through find_package with
#     CMake set up for the cross compiler; a 64-bit host CMake project refuses it.
#  7. make install MQE_FEATURES=lite: the header of that feature set, not the committed one,
#     and a consumer built against it completes its round trip.
set -euo pipefail
cd "$(dirname "$0")/../.."
MAKE=${MAKE:-make}
PYTHON=${PYTHON:-python3}
CC=${CC:-gcc}
CROSS_TARGET=thumbv7em-none-eabihf
BROKER_TIMEOUT_S=60

work=$(mktemp -d "${TMPDIR:-/tmp}/mqe-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$work/step.log

say() { echo "install-test: $*"; }
fail() { echo "install-test: FAIL: $*" >&2; [ -s "$log" ] && tail -n 40 "$log" >&2; exit 1; }
# run_logged DESCRIPTION COMMAND...: the command's output goes to $log, shown when it fails.
run_logged() { local what=$1; shift; "$@" >"$log" 2>&1 || fail "$what"; }

version=$(sed -n 's/^version = "\([^"]*\)"$/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}
minor=${version#*.}; minor=${minor%%.*}
expected_files="include/mqtt_engine.h
lib/cmake/mqtt_engine/mqtt_engineConfig.cmake
lib/cmake/mqtt_engine/mqtt_engineConfigVersion.cmake
lib/libmqtt_engine.a
lib/pkgconfig/mqtt_engine.pc"

installed_files() { (cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort); }

# --- 1. install into a prefix ---
prefix=$work/prefix
run_logged "make install PREFIX=$prefix" $MAKE --no-print-directory install TARGET= DESTDIR= PREFIX="$prefix"
[ "$(installed_files "$prefix")" = "$expected_files" ] ||
  fail "installed files differ from the expected five: $(installed_files "$prefix" | tr '\n' ' ')"
cmp -s include/mqtt_engine.h "$prefix/include/mqtt_engine.h" ||
  fail "installed header differs from include/mqtt_engine.h (capacities set in the environment?)"
say "installed $version into $prefix: $(echo $expected_files)"

# --- 2. pkg-config ---
export PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig  # only our .pc, not the system's
flags=$(echo $(pkg-config --cflags --libs mqtt_engine))
[ "$flags" = "-I$prefix/include -L$prefix/lib -lmqtt_engine" ] || fail "pkg-config flags: $flags"
[ "$(pkg-config --modversion mqtt_engine)" = "$version" ] || fail "pkg-config --modversion"
[ -z "$(pkg-config --variable=target mqtt_engine)" ] || fail "host install has a target triple"
pkg-config --atleast-version="$major.$minor" mqtt_engine || fail "pkg-config --atleast-version"
strict=(-std=c99 -Wall -Wextra -Werror -pedantic -O2)
# Only pkg-config's flags reach the library: no -Iinclude, no extra -l.
run_logged "build with pkg-config" $CC "${strict[@]}" $(pkg-config --cflags mqtt_engine) -Iports/posix \
  tests/install/consumer.c ports/posix/port_posix.c $(pkg-config --libs mqtt_engine) -o "$work/consumer-pkgconfig"
unset PKG_CONFIG_LIBDIR
say "pkg-config: '$flags'; consumer built with exactly these"

# --- 3. CMake ---
# Unix Makefiles whatever CMAKE_GENERATOR says: the checks read its link.txt.
cmake_configure() { # BUILD_DIR PREFIX FIND_VERSION
  cmake -G "Unix Makefiles" -S tests/install -B "$1" -DCMAKE_PREFIX_PATH="$2" -DMQE_FIND_VERSION="$3" \
    -DMQE_PORT_DIR="$PWD/ports/posix" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=Release
}
run_logged "cmake configure" cmake_configure "$work/cmake" "$prefix" "$major.$minor"
run_logged "cmake build" cmake --build "$work/cmake"
grep -qF "$prefix/lib/libmqtt_engine.a" "$work/cmake/CMakeFiles/consumer.dir/link.txt" ||
  fail "the CMake link line does not use the installed archive"
cp "$work/cmake/consumer" "$work/consumer-cmake"
for too_new in "$((major + 1)).0" "$major.$((minor + 1))"; do
  if cmake_configure "$work/cmake-$too_new" "$prefix" "$too_new" >"$log" 2>&1; then
    fail "find_package(mqtt_engine $too_new) accepted version $version"
  fi
  grep -q "mqtt_engineConfig.cmake, version: $version" "$log" ||
    fail "find_package($too_new) failed for another reason than the version"
done
moved=$work/moved-prefix
mv "$prefix" "$moved"
run_logged "cmake configure (moved prefix)" cmake_configure "$work/cmake-moved" "$moved" ""
run_logged "cmake build (moved prefix)" cmake --build "$work/cmake-moved"
grep -qF "$moved/lib/libmqtt_engine.a" "$work/cmake-moved/CMakeFiles/consumer.dir/link.txt" ||
  fail "after the move, CMake does not link the moved archive"
say "CMake: find_package(mqtt_engine $major.$minor) + mqtt_engine::mqtt_engine built; newer versions refused; relocatable"

# --- 4. run both consumers ---
for consumer in consumer-pkgconfig consumer-cmake; do
  (unset MQE_BROKER_HOST MQE_BROKER_PORT; "$work/$consumer") >"$log" 2>&1 || fail "$consumer without a broker"
  grep -q "PASS" "$log" || fail "$consumer printed no PASS"
  $PYTHON scripts/with_broker.py --timeout "$BROKER_TIMEOUT_S" -- "$work/$consumer" >"$log" 2>&1 ||
    fail "$consumer against mosquitto"
  grep -q "broker round trip: PASS" "$log" || fail "$consumer: no round trip PASS"
  say "$consumer: $(grep PASS "$log")"
done

# --- 5. DESTDIR staging ---
stage=$work/stage
run_logged "make install DESTDIR" $MAKE --no-print-directory install TARGET= DESTDIR="$stage" PREFIX=/opt/mqe
[ "$(installed_files "$stage/opt/mqe")" = "$expected_files" ] || fail "DESTDIR install: wrong files"
grep -qx "prefix=/opt/mqe" "$stage/opt/mqe/lib/pkgconfig/mqtt_engine.pc" || fail "DESTDIR install: .pc prefix"
run_logged "make uninstall DESTDIR" $MAKE --no-print-directory uninstall TARGET= DESTDIR="$stage" PREFIX=/opt/mqe
[ -z "$(installed_files "$stage/opt/mqe")" ] || fail "uninstall left files behind"
say "DESTDIR=$stage PREFIX=/opt/mqe: staged, .pc prefix=/opt/mqe; uninstall removed all"

# --- 6. cross install ---
cross=$work/cross
run_logged "make install TARGET=$CROSS_TARGET" \
  $MAKE --no-print-directory install TARGET="$CROSS_TARGET" DESTDIR= PREFIX="$cross"
machines=$(readelf -h "$cross/lib/libmqtt_engine.a" | sed -n 's/^ *Machine: *//p' | sort -u)
[ "$machines" = "ARM" ] || fail "cross archive machine: $machines"
export PKG_CONFIG_LIBDIR=$cross/lib/pkgconfig
[ "$(pkg-config --variable=target mqtt_engine)" = "$CROSS_TARGET" ] || fail "cross .pc target"
run_logged "arm-none-eabi-gcc link" arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 \
  -Os -std=c99 -Wall -Wextra -Werror -ffunction-sections -fdata-sections $(pkg-config --cflags mqtt_engine) \
  tests/install/cross_link.c --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections \
  -Wl,--fatal-warnings -Wl,--no-warn-execstack \
  -lc $(pkg-config --libs mqtt_engine) -o "$work/cross_link.elf"
unset PKG_CONFIG_LIBDIR
# The same through CMake with the cross compiler, as a vendor toolchain file would set it up.
m4_flags="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os"
run_logged "cmake configure (arm-none-eabi-gcc)" cmake -G "Unix Makefiles" -S tests/install -B "$work/cmake-arm" \
  -DCMAKE_SYSTEM_NAME=Generic -DCMAKE_SYSTEM_PROCESSOR=arm -DCMAKE_C_COMPILER=arm-none-eabi-gcc \
  -DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY -DCMAKE_C_FLAGS="$m4_flags" \
  -DCMAKE_EXE_LINKER_FLAGS="--specs=nano.specs --specs=nosys.specs -Wl,--gc-sections -Wl,--fatal-warnings -Wl,--no-warn-execstack" \
  -DCMAKE_PREFIX_PATH="$cross" -DMQE_FIND_VERSION="$major.$minor" -DMQE_CROSS_LINK=ON
run_logged "cmake build (arm-none-eabi-gcc)" cmake --build "$work/cmake-arm"
grep -qE -- "-lc +$cross/lib/libmqtt_engine.a" "$work/cmake-arm/CMakeFiles/cross_link.dir/link.txt" ||
  fail "the CMake cross link line does not put the C library ahead of the archive"
if cmake_configure "$work/cmake-cross" "$cross" "" >"$log" 2>&1; then
  fail "a 64-bit CMake project accepted the 32-bit $CROSS_TARGET archive"
fi
grep -q "32-bit, $CROSS_TARGET" "$log" || fail "the cross package was refused for another reason"
say "TARGET=$CROSS_TARGET: ARM archive installed; arm-none-eabi-gcc links it via pkg-config and via CMake; a 64-bit CMake project refuses it"
# --- 7. a feature set: the installed header is the one built with the library ---
lite=$work/lite
run_logged "make install MQE_FEATURES=lite" \
  $MAKE --no-print-directory install TARGET= DESTDIR= PREFIX="$lite" MQE_FEATURES=lite
# Preprocessed to a file first: piped into grep, a failing preprocessor would pass the check.
echo '#include "mqtt_engine.h"' >"$work/lite_header.c"
run_logged "preprocess the lite header" $CC -E -P -I"$lite/include" "$work/lite_header.c" -o "$work/lite_header.i"
grep -q "mqe_poll *(" "$work/lite_header.i" || fail "the preprocessed lite header lacks mqe_poll"
grep -q "mqe_post_publish *(" "$work/lite_header.i" && fail "the lite header declares mqe_post_publish"
grep -q "^#define MQE_FEATURE_LOG " "$lite/include/mqtt_engine.h" && fail "the lite header defines MQE_FEATURE_LOG"
grep -q "^#define MQE_FEATURE_LITE " "$lite/include/mqtt_engine.h" || fail "the lite header lacks MQE_FEATURE_LITE"
cmp -s include/mqtt_engine.h "$lite/include/mqtt_engine.h" && fail "the lite install has the full header"
export PKG_CONFIG_LIBDIR=$lite/lib/pkgconfig
run_logged "build against the lite install" $CC "${strict[@]}" $(pkg-config --cflags mqtt_engine) -Iports/posix \
  tests/install/consumer.c ports/posix/port_posix.c $(pkg-config --libs mqtt_engine) -o "$work/consumer-lite"
unset PKG_CONFIG_LIBDIR
# mqe_init refuses a header of another feature set, so a round trip proves the pair matches.
$PYTHON scripts/with_broker.py --timeout "$BROKER_TIMEOUT_S" -- "$work/consumer-lite" >"$log" 2>&1 ||
  fail "consumer-lite against mosquitto"
grep -q "broker round trip: PASS" "$log" || fail "consumer-lite: no round trip PASS"
say "MQE_FEATURES=lite: the lite header installed with the lite archive; consumer round trip PASS"
say "PASS"
