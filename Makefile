# mqtt-engine: build, test and demo entry points (GNU make).
#
#   make deps    install everything the tests need: the apt packages (mosquitto, ARM toolchains,
#                QEMU, ...) and rust-toolchain.toml's targets and components; or print the command
#   make rust-deps  only the Rust targets and components of rust-toolchain.toml (each target
#                below adds just the ones it needs, through scripts/rust_deps.py)
#   make demo    build the library and run the C pub/sub demo against a private mosquitto
#   make quickstart  run the README's three-line build block as written, against mosquitto
#   make test    everything CI runs: fmt, clippy, Rust tests, header freshness, C tests
#                against mosquitto, the short soak, the ARM builds, the QEMU images, the 32-bit
#                tests, the quick start and the demo
#   make ctest   only the C tests against mosquitto (tests/c)
#   make outbox-test  4 threads x 5,000 mqe_post_publish against mosquitto: plain, under
#                ThreadSanitizer and helgrind (and a broken critical section both must catch)
#   make umqtt   the QuecPython umqtt example translated to C (c_examples/umqtt_port.c)
#   make opencpu the module-app template (c_examples/opencpu_app.c): an MQTT task and a sensor
#                task (pthreads) against mosquitto; every reading must come back once
#   make lwip-test  ports/lwip over a real lwIP (liblwip's tapif) on a TAP in a private network
#                namespace, mosquitto on the kernel end: QoS 0/1/2, wildcards, keep-alive,
#                refused connect, link cut + resume with DUP (root; otherwise it says it skipped)
#   make lwip-size  flash/RAM of ports/lwip/port_lwip.c for Cortex-M4 (arm-none-eabi-size)
#   make lwip-bench  instructions per QoS 1 publish through ports/lwip (callgrind; root)
#   make tls-test  connect over mbedTLS (ports/posix/port_posix_tls.c) to a TLS mosquitto;
#                wrong CA and wrong host name must fail
#   make header  regenerate include/mqtt_engine.h
#   make check-header  fail when include/mqtt_engine.h differs from what the sources generate,
#                or does not compile as C89 and C++ (check-header-c89)
#   make check-header-c89  the header compiles with -std=c89 -pedantic (no // comments) and as C++11
#   make check-c every host C file compiles with exactly -std=c99 -Wall -Wextra -Werror -pedantic
#   make check-help  every target of .PHONY is listed by `make help`
#   make install PREFIX=/usr/local [DESTDIR=] [TARGET=triple]  the archive, header, pkg-config
#                file and CMake package (docs/BUILDING.md)
#   make uninstall PREFIX=/usr/local [DESTDIR=]  remove what `make install` put there
#   make install-test  install into temp prefixes; build a consumer with pkg-config and with
#                CMake and run it against mosquitto; link a TARGET=thumbv7em-none-eabihf install
#   make lib TARGET=thumbv7em-none-eabihf  the library for that Rust target (default: host)
#   make check-links  every relative link and #anchor in README.md, PORTING.md and docs/*.md resolves
#   make interop the broker matrix: the C tests, the demo and the short soak against mosquitto,
#                aedes, rumqttd, amqtt and ejabberd, each installed from its package registry
#                into build/interop/; fails on any result tests/interop/expected.toml does not
#                list (docs/BROKERS.md)
#   make interop-aedes  the aedes row only (part of make test)
#   make interop-deps  install the matrix's brokers into build/interop/ (rumqttd builds for minutes)
#   make soak    10,000 QoS 1 + 10,000 QoS 2 through a connection-cutting proxy and a
#                broker restart; fails on any loss or QoS 2 duplicate
#   make soak-short  the same with 1,000 each (part of make test)
#   make soak-reboot  a publisher with its session store in a file-backed flash region is
#                SIGKILLed 200 times while it publishes 10,000 QoS 1 + 10,000 QoS 2
#   make soak-reboot-short  the same with 1,000 each and 20 kills
#   make store-test  the session store's Rust tests and clippy (feature store), then
#                soak-reboot-short (part of make test)
#   make store-header  the header of a library built with the store (build/store/include)
#   make qemu-store  the full Cortex-M4 image with the store (a RAM region as flash, a
#                simulated reset); no panic path; prints the flash the store adds
#   make at-test the Quectel AT port (ports/quectel_at) through scripts/modem_emulator.py to
#                mosquitto: the demo, the C tests, a cut and resume with DUP, AT bytes per
#                message, a soak with >= 20 socket drops, PDP deactivations, modem restarts
#   make at-size the AT port's flash (arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os) and RAM
#   make at-cpu  the AT port's instructions per published message (callgrind, a scripted modem)
#   make arm     build the static library for the bare-metal ARM targets; check it has no allocator
#   make qemu    run the Cortex-M4 images under qemu-system-arm (full C API, minimal app, panic hook)
#   make check-no-panic  the Cortex-M4 images reach no panic path and no core::fmt
#   make size    print the flash/RAM/stack table of the Cortex-M4 images, both profiles, beside
#                tests/cortex_m/size_budget.json (docs/FOOTPRINT.md)
#   make test-lite  clippy and the Rust tests of the lite profile (--no-default-features), and
#                clippy of each facility feature alone on top of it (part of make test)
#   make size-check  fail when a row of the size table grew > 2 % over size_budget.json
#                (part of make test)
#   make lib MQE_FEATURES=lite  (or any feature list) the library without the default `full`
#                profile; make header MQE_FEATURES=... the header that declares only what it has
#   make test32  the Rust engine/client/ffi tests on armv7 (under qemu-arm) and i686
#   make toolchain-test  from a Rust home with the host target only and RUSTUP_AUTO_INSTALL=0,
#                rust-deps adds the targets and a thumbv6m build succeeds (tests/toolchain)
#   make bench   benchmarks beside libmosquitto (CPU, syscalls, throughput, latency, 50 ms RTT);
#                writes bench/results.md; not part of make test (2-4 minutes)
#   make bench-deps  the apt packages of make bench (libmosquitto-dev, valgrind, strace)
#   make bench-cpu   make bench's instructions per message only (about a minute; writes nothing)
#   make abi-test  a library built with other capacities than include/mqtt_engine.h: mqe_init
#                must refuse it and write nothing (canary); misaligned storage likewise; the
#                matching header works; the header's C11 _Alignas fallback holds on i386
#   make cell-test  the C client through a cellular link emulator (scripts/cell_link.py:
#                network namespaces, 0.3-2 s RTT, 16 kbit/s, silent drops, link down/up) to
#                mosquitto; docs/CELLULAR.md
#   make cell-test-short  the same at 0.6-1 s RTT and 32 kbit/s (part of make test)
#   make cloud-test  expiring credentials against mosquitto behind an authenticating proxy
#                (tests/cloud/auth_proxy.py): CONNACK 4 for a stale password, the callback's
#                new one connects, no QoS 1 message lost
#   make cbad    the C bad-input table (tests/c/bad_input.c, a fake network, no broker)
#   make sanitize  the C tests under ASan+UBSan, then under valgrind memcheck (zero errors)
#   make fuzz    each cargo-fuzz target for FUZZ_SECONDS (default 60); fails on a crash
#   make fuzz-deps  the nightly toolchain (when it can be fetched) and the pinned cargo-fuzz
#   make nightly the nightly toolchain for fuzz, when it can be fetched
#   make notice  regenerate THIRD_PARTY_NOTICES.md (the crates compiled into the .a)
#   make check-notice  fail when THIRD_PARTY_NOTICES.md is stale
#   make clean   remove target/ and build/
#   make help    this list
#
# Rust artifacts stay in target/ (cargo's), C artifacts in build/; both are gitignored.

CARGO   ?= cargo
PYTHON  ?= python3
ifeq ($(origin CC),default)
CC      := gcc
endif
CFLAGS  ?= -O2 -g
LDFLAGS ?=

BUILD   := build
LIB     := target/release/libmqtt_engine.a
HEADER  := include/mqtt_engine.h
# Rust target triple of `make lib` and `make install` (empty: the host).
TARGET  ?=
TARGET_LIB := $(if $(TARGET),target/$(TARGET)/release/libmqtt_engine.a,$(LIB))
# Build-time features (docs/FOOTPRINT.md): empty is the `full` profile; `lite`, or a list such as
# `log,qos2`, builds only those (cargo --no-default-features --features ...).
MQE_FEATURES ?=
FEATURE_ARGS := $(if $(MQE_FEATURES),--no-default-features --features $(MQE_FEATURES))

# Strict C: the header and the examples must stay warning-free C99. No -D: each POSIX file
# defines the feature macro it needs, so a copied file builds with these flags alone.
C_STRICT := -std=c99 -Wall -Wextra -Werror -pedantic
C_INCLUDES := -Iinclude -Iports/posix
PORT_SRC := ports/posix/port_posix.c
PORT_HDR := ports/posix/port_posix.h
# bad_input*.c are programs of their own (a fake network, no broker): see `cbad`.
CBAD_SRC := $(wildcard tests/c/bad_input*.c)
CTEST_SRC := $(filter-out $(CBAD_SRC),$(wildcard tests/c/*.c))
CTEST_HDR := $(wildcard tests/c/*.h)

WITH_BROKER := $(PYTHON) scripts/with_broker.py
# Adds what the caller needs of rust-toolchain.toml's targets/components (rustup), or fails
# at once with the command: `$(RUST_DEPS) --targets T...`, `--components C...`, or all.
RUST_DEPS   := $(PYTHON) scripts/rust_deps.py
SOAK_RUN    := $(PYTHON) scripts/soak.py
DEMO_TIMEOUT_S  := 60
CTEST_TIMEOUT_S := 300
NEAR_WRAP_TICK  := 4294962295

# "package:command" pairs installed with apt-get; a package counts as present when its
# command is in PATH or /usr/sbin (or, for an absolute path, when that file exists: for
# packages without a command). One group per purpose: each target installs only its own
# (`make demo` needs mosquitto, not the cross compilers). Add new system dependencies here.
APT_BROKER := mosquitto:mosquitto
APT_ARM := gcc-arm-none-eabi:arm-none-eabi-gcc \
  libnewlib-arm-none-eabi:/usr/lib/arm-none-eabi/newlib/thumb/v7e-m+fp/hard/libc_nano.a
APT_QEMU := qemu-system-arm:qemu-system-arm
APT_TEST32 := qemu-user:qemu-arm \
  gcc-arm-linux-gnueabihf:arm-linux-gnueabihf-gcc \
  libc6-dev-armhf-cross:/usr/arm-linux-gnueabihf/lib/libc.so \
  libc6-dev-i386:/usr/lib32/libc.so \
  lib32gcc-12-dev:/usr/lib/gcc/x86_64-linux-gnu/12/32/libgcc.a
APT_TLS := libmbedtls-dev:/usr/include/mbedtls/ssl.h openssl:openssl
APT_VALGRIND := valgrind:valgrind
APT_TSAN := libtsan2:/usr/lib/x86_64-linux-gnu/libtsan.so.2
APT_INSTALL_TEST := cmake:cmake pkg-config:pkg-config
APT_LWIP := liblwip-dev:/usr/include/lwip/lwip/sockets.h iproute2:ip
APT_DEPS := $(APT_BROKER) $(APT_ARM) $(APT_QEMU) $(APT_TEST32) $(APT_TLS) $(APT_VALGRIND) \
  $(APT_TSAN) $(APT_INSTALL_TEST) $(APT_LWIP)
# Only for `make bench`.
BENCH_APT_DEPS := libmosquitto-dev:/usr/include/mosquitto.h valgrind:valgrind strace:strace

.DEFAULT_GOAL := lib
.PHONY: soak-reboot soak-reboot-short store-test qemu-store store-header
.PHONY: check-links cell-test cell-test-short abi-test lib header check-header check-header-c89 deps rust-deps bench-deps demo quickstart ctest outbox-test umqtt opencpu tls-test soak soak-short arm qemu size check-no-panic test32 test bench clean help FORCE cbad sanitize fuzz fuzz-deps nightly cloud-test

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

# $(call apt_install,PAIRS): installs the missing packages of PAIRS with apt-get when root,
# else prints the command and fails.
define apt_install
@missing=""; \
for dep in $(1); do \
  pkg=$${dep%%:*}; cmd=$${dep#*:}; \
  case "$$cmd" in \
    /*) [ -e "$$cmd" ] || missing="$$missing $$pkg" ;; \
    *) if ! command -v "$$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$$cmd" ]; then \
         missing="$$missing $$pkg"; \
       fi ;; \
  esac; \
done; \
if [ -z "$$missing" ]; then exit 0; fi; \
if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
  echo "deps: installing$$missing"; \
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y$$missing; \
else \
  echo "deps: missing$$missing. Install with:" >&2; \
  echo "  sudo apt-get update && sudo apt-get install -y$$missing" >&2; \
  exit 1; \
fi
endef

deps:
	$(call apt_install,$(APT_DEPS))
	$(RUST_DEPS)

rust-deps:
	$(RUST_DEPS)

bench-deps:
	$(call apt_install,$(APT_BROKER) $(BENCH_APT_DEPS))

# cargo decides what is stale; FORCE makes make ask it every time.
lib: $(TARGET_LIB)
$(LIB): FORCE
	$(CARGO) build --release $(FEATURE_ARGS)
# Any other Rust target: make lib TARGET=<triple>.
target/%/release/libmqtt_engine.a: FORCE
	$(RUST_DEPS) --if-declared --targets $*
	$(CARGO) build --release --target $* $(FEATURE_ARGS)

# build.rs writes the header only when cargo runs it, and cargo keeps one run per feature set:
# each set gets its own output under target/ (gone with cargo's cache), copied from there, so
# switching MQE_FEATURES back and forth never leaves another set's header behind.
HEADER_GEN_OUT = $(CURDIR)/target/header/$(or $(subst $(comma),+,$(MQE_FEATURES)),default)/mqtt_engine.h
HEADER_GEN = MQE_HEADER_OUT=$(HEADER_GEN_OUT) $(CARGO) build --features header $(FEATURE_ARGS)
header:
	$(HEADER_GEN)
	cp $(HEADER_GEN_OUT) $(HEADER)

# Fails when the committed header differs from what the sources generate.
check-header:
	MQE_HEADER_OUT=$(CURDIR)/target/mqtt_engine.h.check $(CARGO) build --features header
	diff -u $(HEADER) target/mqtt_engine.h.check
	$(MAKE) --no-print-directory check-header-c89

# The header compiles as strict C89 (no // comments) and as C++.
check-header-c89:
	$(CC) -std=c89 -pedantic -Wall -Wextra -Werror -fsyntax-only -x c $(HEADER)
	$(CXX) -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only -x c++ $(HEADER)

$(BUILD):
	mkdir -p $@

$(BUILD)/pubsub: c_examples/pubsub.c $(PORT_SRC) $(PORT_HDR) $(HEADER) $(LIB) | $(BUILD)
	$(CC) $(C_STRICT) $(CFLAGS) $(C_INCLUDES) c_examples/pubsub.c $(PORT_SRC) $(LIB) $(LDFLAGS) -o $@

$(BUILD)/test_c: $(CTEST_SRC) $(CTEST_HDR) $(PORT_SRC) $(PORT_HDR) $(HEADER) $(LIB) | $(BUILD)
	$(CC) $(C_STRICT) $(CFLAGS) $(C_INCLUDES) -Itests/c $(CTEST_SRC) $(PORT_SRC) $(LIB) $(LDFLAGS) -o $@

# The README's build block (the first ```sh block after <!-- build-block -->), run as
# written from the repo root: its lines, and only those, under a private broker.
QUICKSTART_TIMEOUT_S := 600
quickstart: | $(BUILD)
	$(call apt_install,$(APT_BROKER))
	$(PYTHON) scripts/readme_block.py README.md >$(BUILD)/readme_block.sh
	$(WITH_BROKER) --timeout $(QUICKSTART_TIMEOUT_S) -- sh -ex $(BUILD)/readme_block.sh

$(BUILD)/soak: tests/soak/soak.c $(PORT_SRC) $(PORT_HDR) $(HEADER) $(LIB) | $(BUILD)
	$(CC) $(C_STRICT) $(CFLAGS) $(C_INCLUDES) tests/soak/soak.c $(PORT_SRC) $(LIB) $(LDFLAGS) -o $@

# The soak: the C client through scripts/fault_proxy.py (random cuts, mid-packet included)
# to a mosquitto with persistence, restarted once mid-stream. Bounded by --timeout.
soak: $(BUILD)/soak
	$(call apt_install,$(APT_BROKER))
	$(SOAK_RUN) --q1 10000 --q2 10000 --min-cuts 200 --restart --timeout 900 -- $(BUILD)/soak

soak-short: $(BUILD)/soak
	$(call apt_install,$(APT_BROKER))
	$(SOAK_RUN) --q1 1000 --q2 1000 --min-cuts 20 --restart --timeout 120 -- $(BUILD)/soak

demo: $(BUILD)/pubsub
	$(call apt_install,$(APT_BROKER))
	$(WITH_BROKER) --timeout $(DEMO_TIMEOUT_S) -- $(BUILD)/pubsub

# Twice: on the host's tick, then with the tick starting 5 s before it wraps at 2^32.
ctest: $(BUILD)/test_c
	$(call apt_install,$(APT_BROKER))
	$(WITH_BROKER) --timeout $(CTEST_TIMEOUT_S) -- $(BUILD)/test_c
	MQE_TICK_START=$(NEAR_WRAP_TICK) $(WITH_BROKER) --timeout $(CTEST_TIMEOUT_S) -- $(BUILD)/test_c

$(BUILD)/umqtt_port: c_examples/umqtt_port.c $(PORT_SRC) $(PORT_HDR) $(HEADER) $(LIB) | $(BUILD)
	$(CC) $(C_STRICT) $(CFLAGS) $(C_INCLUDES) c_examples/umqtt_port.c $(PORT_SRC) $(LIB) $(LDFLAGS) -o $@

# The umqtt example: must print its own message back.
umqtt: $(BUILD)/umqtt_port
	$(call apt_install,$(APT_BROKER))
	@$(WITH_BROKER) --timeout $(DEMO_TIMEOUT_S) -- $(BUILD)/umqtt_port >$(BUILD)/umqtt_port.log; \
	  status=$$?; cat $(BUILD)/umqtt_port.log; exit $$status
	grep -q '^/public/TEST/quecpython my name is Quecpython!$$' $(BUILD)/umqtt_port.log

$(BUILD)/opencpu_app: c_examples/opencpu_app.c $(PORT_SRC) $(PORT_HDR) $(HEADER) $(LIB) | $(BUILD)
	$(CC) $(C_STRICT) $(CFLAGS) $(C_INCLUDES) c_examples/opencpu_app.c $(PORT_SRC) $(LIB) -lpthread $(LDFLAGS) -o $@

# The module-app template: must pass, and its log hook must have printed the connect.
opencpu: $(BUILD)/opencpu_app
	$(call apt_install,$(APT_BROKER))
	@$(WITH_BROKER) --timeout $(DEMO_TIMEOUT_S) -- $(BUILD)/opencpu_app >$(BUILD)/opencpu_app.log; \
	  status=$$?; cat $(BUILD)/opencpu_app.log; exit $$status
	grep -q '^\[mqe\] I connected, session present 0, endpoint 0$$' $(BUILD)/opencpu_app.log

# --- lwIP: ports/lwip over Debian's liblwip (lwIP 2.1.3, the unix port: tapif, tcpip_init) on
# a TAP device in a private network namespace; mosquitto on the TAP's kernel end
# (scripts/lwip_netns.sh). Creating them needs root: without it the test says it skipped. ---
.PHONY: lwip-test lwip-size lwip-bench
LWIP_PORT := ports/lwip/port_lwip.c ports/lwip/port_lwip.h
# lwIP's headers are not ours to keep -pedantic clean: -isystem. The port itself is C_STRICT.
LWIP_CFLAGS = $(patsubst -I%,-isystem %,$(or $(shell pkg-config --cflags lwip 2>/dev/null),-I/usr/include/lwip))
LWIP_LIBS = $(or $(shell pkg-config --libs lwip 2>/dev/null),-llwip) -lpthread
LWIP_NETNS := scripts/lwip_netns.sh
LWIP_SKIP := 77
LWIP_BENCH_N := 1000

$(BUILD)/lwip_test: tests/lwip/lwip_test.c tests/c/harness.c $(LWIP_PORT) $(PORT_SRC) $(PORT_HDR) $(HEADER) $(LIB) | $(BUILD)
	$(call apt_install,$(APT_LWIP))
	$(CC) $(C_STRICT) -fsyntax-only -DLWIP_DNS=1 -Iinclude -Iports/lwip $(LWIP_CFLAGS) ports/lwip/port_lwip.c
	$(CC) $(C_STRICT) $(CFLAGS) -Iinclude -Iports/lwip -Iports/posix -Itests/c $(LWIP_CFLAGS) \
	  tests/lwip/lwip_test.c ports/lwip/port_lwip.c $(PORT_SRC) tests/c/harness.c $(LIB) $(LWIP_LIBS) $(LDFLAGS) -o $@

# $(call lwip_run,COMMAND): COMMAND under scripts/lwip_netns.sh, or a clear SKIPPED line.
define lwip_run
@if [ "$$(id -u)" != 0 ]; then \
  echo "$@: SKIPPED: it creates a network namespace and a TAP device, which needs root (uid $$(id -u))"; \
  exit 0; fi; \
$(MAKE) --no-print-directory $(BUILD)/lwip_test || exit 1; \
$(LWIP_NETNS) --timeout 180 -- $(1); status=$$?; \
if [ $$status = $(LWIP_SKIP) ]; then echo "$@: SKIPPED (the reason is above)"; exit 0; fi; exit $$status
endef

# Twice: plain, then under valgrind memcheck (the port, the test and lwIP's threads).
lwip-test:
	$(call apt_install,$(APT_BROKER) $(APT_VALGRIND))
	$(call lwip_run,$(BUILD)/lwip_test)
	$(call lwip_run,$(VALGRIND) $(BUILD)/lwip_test)

# Callgrind counts only inside mqe_publish and mqe_poll (engine, port, lwIP's socket layer
# and the TCP work lwIP does in the caller); the tapif and tcpip threads are not counted.
lwip-bench:
	$(call apt_install,$(APT_BROKER) $(APT_VALGRIND))
	@rm -f $(BUILD)/lwip_bench.callgrind
	$(call lwip_run,valgrind --tool=callgrind --callgrind-out-file=$(BUILD)/lwip_bench.callgrind \
	  --toggle-collect=mqe_publish --toggle-collect=mqe_poll $(BUILD)/lwip_test --bench $(LWIP_BENCH_N))
	@[ -f $(BUILD)/lwip_bench.callgrind ] || exit 0; \
	callgrind_annotate --inclusive=yes $(BUILD)/lwip_bench.callgrind | awk -v n=$(LWIP_BENCH_N) ' \
	  function num(s) { gsub(",", "", s); return s + 0 } \
	  /PROGRAM TOTALS/ { total = num($$1) } \
	  / [^ ]*:(port_send|port_recv) \[/ { port += num($$1) } \
	  / [^ ]*:(lwip_send|lwip_recv) \[/ { lwip += num($$1) } \
	  END { if (total == 0) { print "lwip-bench: no callgrind totals" > "/dev/stderr"; exit 1 } \
	    printf "lwip-bench: per QoS 1 publish (%d, each polled to its PUBACK), instructions (x86-64):\n", n; \
	    printf "  mqe_publish + mqe_poll, all included  %d\n", total / n; \
	    printf "  of which the port (send + recv)       %d\n", port / n; \
	    printf "  of which lwIP (lwip_send + lwip_recv) %d\n", lwip / n; \
	    printf "  the engine alone                      %d\n", (total - port) / n }'

# The port's flash and RAM on Cortex-M4, against lwIP's headers with tests/lwip/m4's
# lwipopts.h (NO_SYS 0, sockets, TCP, IPv4), with and without LWIP_DNS (resolve).
LWIP_M4_FLAGS := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os -ffunction-sections \
  -fdata-sections $(C_STRICT) -Iinclude -Iports/lwip -Itests/lwip/m4
lwip-size:
	$(call apt_install,$(APT_ARM) $(APT_LWIP))
	@mkdir -p $(M4_BUILD)
	@for dns in 1 0; do \
	  $(M4_CC) $(LWIP_M4_FLAGS) $(LWIP_CFLAGS) -DLWIP_DNS=$$dns -c ports/lwip/port_lwip.c \
	    -o $(M4_BUILD)/port_lwip_dns$$dns.o || exit 1; \
	  echo "LWIP_DNS=$$dns:"; arm-none-eabi-size $(M4_BUILD)/port_lwip_dns$$dns.o; \
	done

# --- Cellular link: the C client through scripts/cell_link.py (its own network namespaces
# as root, else 127.0.0.1), checking drop detection, link down/up, no loss and mqe_stats ---
CELL_RUN := $(PYTHON) scripts/cell_link.py
$(BUILD)/cell_client: tests/cell/cell_client.c $(PORT_SRC) $(PORT_HDR) $(HEADER) $(LIB) | $(BUILD)
	$(CC) $(C_STRICT) $(CFLAGS) $(C_INCLUDES) tests/cell/cell_client.c $(PORT_SRC) $(LIB) $(LDFLAGS) -o $@

cell-test: $(BUILD)/cell_client
	$(call apt_install,$(APT_BROKER))
	$(CELL_RUN) --rtt-ms 300 2000 --kbps 16 --nat-timeout 15 --timeout 240 -- $(BUILD)/cell_client

cell-test-short: $(BUILD)/cell_client
	$(call apt_install,$(APT_BROKER))
	$(CELL_RUN) --rtt-ms 600 1000 --kbps 32 --nat-timeout 9 --timeout 120 -- $(BUILD)/cell_client

# --- TLS: the POSIX port wrapped in mbedTLS, against mosquitto's TLS listener ---
TLS_PORT := ports/posix/port_posix_tls.c ports/posix/port_posix_tls.h
MBEDTLS_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto

$(BUILD)/tls_connect: tests/c/tls/tls_connect.c $(TLS_PORT) $(PORT_SRC) $(PORT_HDR) $(HEADER) $(LIB) | $(BUILD)
	$(call apt_install,$(APT_TLS))
	$(CC) $(C_STRICT) $(CFLAGS) $(C_INCLUDES) tests/c/tls/tls_connect.c ports/posix/port_posix_tls.c \
	  $(PORT_SRC) $(LIB) $(MBEDTLS_LIBS) $(LDFLAGS) -o $@

tls-test: $(BUILD)/tls_connect
	$(call apt_install,$(APT_BROKER) $(APT_TLS))
	$(PYTHON) scripts/with_tls_broker.py --timeout $(DEMO_TIMEOUT_S) -- $(BUILD)/tls_connect

# --- mqe_post_publish across threads (tests/c/outbox: its own binary, it needs pthreads) ---
OUTBOX_SRC := tests/c/outbox/outbox_threads.c
OUTBOX_DEPS := $(OUTBOX_SRC) $(PORT_SRC) $(PORT_HDR) $(HEADER) $(LIB) | $(BUILD)
OUTBOX_BUILD = $(CC) $(C_STRICT) $(C_INCLUDES) $(OUTBOX_SRC) $(PORT_SRC) $(LIB) -lpthread $(LDFLAGS)
OUTBOX_ARGS := 4 5000
HELGRIND := valgrind --tool=helgrind --error-exitcode=67 -q

$(BUILD)/outbox_threads: $(OUTBOX_DEPS)
	$(OUTBOX_BUILD) $(CFLAGS) -o $@
$(BUILD)/outbox_threads_tsan: $(OUTBOX_DEPS)
	$(call apt_install,$(APT_TSAN))
	$(OUTBOX_BUILD) $(TSAN_CFLAGS) -o $@
$(BUILD)/outbox_threads_broken: $(OUTBOX_DEPS)
	$(OUTBOX_BUILD) $(CFLAGS) -DBROKEN_CRITICAL_SECTION -o $@
$(BUILD)/outbox_threads_broken_tsan: $(OUTBOX_DEPS)
	$(call apt_install,$(APT_TSAN))
	$(OUTBOX_BUILD) $(TSAN_CFLAGS) -DBROKEN_CRITICAL_SECTION -o $@

TSAN_CFLAGS := -O1 -g -fsanitize=thread
# gcc 12's TSan aborts on kernels with high mmap randomisation: run it without ASLR.
TSAN_RUN := TSAN_OPTIONS="halt_on_error=1 exitcode=66" $(WITH_BROKER) --timeout 300 -- setarch $$(uname -m) -R

# $(call expect_race,TOOL NAME,EXIT STATUS,COMMAND): COMMAND must fail with that status.
define expect_race
@$(3) >$(BUILD)/outbox_broken.log 2>&1; status=$$?; \
if [ $$status != $(2) ]; then \
  cat $(BUILD)/outbox_broken.log; \
  echo "outbox-test: $(1) missed the races of a broken critical section (exit $$status)" >&2; exit 1; \
fi; echo "outbox-test: $(1) caught the broken critical section, as it must"
endef

# TSan instruments the C side (port, handlers, hooks) and intercepts the library's memcpy;
# helgrind sees every access, the library's included. With a critical section that locks
# nothing, both must fail.
outbox-test: $(BUILD)/outbox_threads $(BUILD)/outbox_threads_tsan $(BUILD)/outbox_threads_broken \
  $(BUILD)/outbox_threads_broken_tsan
	$(call apt_install,$(APT_BROKER) $(APT_VALGRIND) $(APT_TSAN))
	$(WITH_BROKER) --timeout 120 -- $(BUILD)/outbox_threads $(OUTBOX_ARGS)
	$(TSAN_RUN) $(BUILD)/outbox_threads_tsan $(OUTBOX_ARGS)
	$(WITH_BROKER) --timeout 300 -- $(HELGRIND) $(BUILD)/outbox_threads $(OUTBOX_ARGS)
	$(call expect_race,ThreadSanitizer,66,$(TSAN_RUN) $(BUILD)/outbox_threads_broken_tsan $(OUTBOX_ARGS))
	$(call expect_race,helgrind,67,$(WITH_BROKER) --timeout 300 -- $(HELGRIND) $(BUILD)/outbox_threads_broken 4 300)

# --- ABI guard: a header and a library built differently must not meet silently ---
# The library is built with other capacities in its own target dir (the default build is
# untouched), and so is the header that matches it. abi_lib_values.c carries the library's
# size and tag (compiled against that header) into both programs.
ABI_CAPS   := MQE_MAX_INFLIGHT=64 MQE_OUTBOX_SLOTS=16
ABI_TARGET := target/abi
ABI_LIB    := $(ABI_TARGET)/release/libmqtt_engine.a
ABI_BUILD  := $(BUILD)/abi
ABI_HEADER := $(ABI_BUILD)/include/mqtt_engine.h
# The header's alignment without GNU attributes: C11 _Alignas alone must make it 8.
ABI_C11    := -std=c11 -pedantic -Wall -Wextra -Werror -DMQE_NO_GNU_ATTRIBUTES -Iinclude -fsyntax-only
# -m32 needs the i386 C library (a part of the test32 packages).
APT_ABI    := $(filter libc6-dev-i386:% lib32gcc-12-dev:%,$(APT_TEST32))

$(ABI_LIB): FORCE
	$(ABI_CAPS) $(CARGO) build --release --target-dir $(ABI_TARGET)
$(ABI_HEADER): FORCE
	MQE_HEADER_OUT=$(CURDIR)/$@ $(ABI_CAPS) $(CARGO) build --features header --target-dir $(ABI_TARGET)

abi-test: $(ABI_LIB) $(ABI_HEADER) $(HEADER)
	$(call apt_install,$(APT_ABI))
	@mkdir -p $(ABI_BUILD)
	$(CC) $(C_STRICT) $(CFLAGS) -I$(ABI_BUILD)/include -c tests/c/abi/abi_lib_values.c -o $(ABI_BUILD)/lib_values.o
	$(CC) $(C_STRICT) $(CFLAGS) -Iinclude tests/c/abi/abi_guard.c $(ABI_BUILD)/lib_values.o $(ABI_LIB) $(LDFLAGS) -o $(ABI_BUILD)/guard_stock_header
	$(CC) $(C_STRICT) $(CFLAGS) -I$(ABI_BUILD)/include tests/c/abi/abi_guard.c $(ABI_BUILD)/lib_values.o $(ABI_LIB) $(LDFLAGS) -o $(ABI_BUILD)/guard_matching_header
	$(ABI_BUILD)/guard_stock_header mismatch
	$(ABI_BUILD)/guard_matching_header match
	$(CC) $(ABI_C11) tests/c/abi/align_c11.c
	$(CC) -m32 $(ABI_C11) tests/c/abi/align_c11.c
	@echo "== without _Alignas the i386 static asserts must fail:"
	@if $(CC) -m32 $(ABI_C11) '-DMQE_ALIGNAS(n)=' tests/c/abi/align_c11.c 2>/dev/null; then \
	  echo "abi-test: align_c11.c passed without the fallback: it proves nothing" >&2; exit 1; \
	else echo "   failed, as it must"; fi
	@echo "abi-test: ok"

# --- clouds: expiring credentials (src/cloud, tests/c/cloud) ---
CLOUD_TEST_SRC := tests/c/cloud/expiring_creds.c

$(BUILD)/expiring_creds: $(CLOUD_TEST_SRC) $(PORT_SRC) $(PORT_HDR) $(HEADER) $(LIB) | $(BUILD)
	$(CC) $(C_STRICT) $(CFLAGS) $(C_INCLUDES) $(CLOUD_TEST_SRC) $(PORT_SRC) $(LIB) $(LDFLAGS) -o $@

cloud-test: $(BUILD)/expiring_creds
	$(call apt_install,$(APT_BROKER))
	$(WITH_BROKER) --timeout 120 -- $(PYTHON) tests/cloud/auth_proxy.py --timeout 90 -- $(BUILD)/expiring_creds

# ---- hardening: the C bad-input table, sanitizers, fuzzing ----

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := frame_decoder engine c_api restore
FUZZ_TOOLCHAIN := nightly
CARGO_FUZZ_VERSION := 0.13.2
# -O -a: optimised, with debug assertions (integer overflow panics); ASan is cargo-fuzz's default.
FUZZ_FLAGS := -O -a

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Leaks are errors too; "definite" ones only: the pool's static clients are still reachable.
VALGRIND := valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --track-origins=yes --quiet
CBAD_BINS := $(patsubst tests/c/%.c,$(BUILD)/%,$(CBAD_SRC))

$(CBAD_BINS): $(BUILD)/%: tests/c/%.c tests/c/harness.c $(CTEST_HDR) $(HEADER) $(LIB) | $(BUILD)
	$(CC) $(C_STRICT) $(CFLAGS) $(C_INCLUDES) -Itests/c $< tests/c/harness.c $(LIB) $(LDFLAGS) -o $@

$(BUILD)/san: | $(BUILD)
	mkdir -p $@

# The Rust library instrumented with ASan too, so that ASan checks every access the library
# makes, through C pointers included; gcc's libasan runs it. -Zsanitizer is unstable: the
# pinned toolchain accepts it under RUSTC_BOOTSTRAP=1, for this test build only (a fresh
# machine has no other toolchain to fetch).
HOST_TARGET := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
ASAN_LIB := target/asan/$(HOST_TARGET)/release/libmqtt_engine.a
$(ASAN_LIB): FORCE
	RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Zsanitizer=address $(CARGO) build --release \
	  --target $(HOST_TARGET) --target-dir target/asan

$(BUILD)/san/test_c: $(CTEST_SRC) $(CTEST_HDR) $(PORT_SRC) $(PORT_HDR) $(HEADER) $(ASAN_LIB) | $(BUILD)/san
	$(CC) $(C_STRICT) $(SAN_FLAGS) $(C_INCLUDES) -Itests/c $(CTEST_SRC) $(PORT_SRC) $(ASAN_LIB) $(LDFLAGS) -o $@

CBAD_SAN_BINS := $(patsubst $(BUILD)/%,$(BUILD)/san/%,$(CBAD_BINS))
$(CBAD_SAN_BINS): $(BUILD)/san/%: tests/c/%.c tests/c/harness.c $(CTEST_HDR) $(HEADER) $(ASAN_LIB) | $(BUILD)/san
	$(CC) $(C_STRICT) $(SAN_FLAGS) $(C_INCLUDES) -Itests/c $< tests/c/harness.c $(ASAN_LIB) $(LDFLAGS) -o $@

cbad: $(CBAD_BINS)
	@for t in $(CBAD_BINS); do echo "== $$t"; $$t || exit 1; done

sanitize: $(BUILD)/san/test_c $(CBAD_SAN_BINS) $(BUILD)/test_c $(CBAD_BINS)
	$(call apt_install,$(APT_BROKER) $(APT_VALGRIND))
	@echo "== ASan+UBSan"
	@for t in $(CBAD_SAN_BINS); do echo "== $$t"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 $$t || exit 1; done
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 $(WITH_BROKER) --timeout $(CTEST_TIMEOUT_S) -- $(BUILD)/san/test_c
	@echo "== valgrind memcheck"
	@for t in $(CBAD_BINS); do echo "== $$t"; $(VALGRIND) $$t || exit 1; done
	$(WITH_BROKER) --timeout $(CTEST_TIMEOUT_S) -- $(VALGRIND) $(BUILD)/test_c

# cargo-fuzz wants nightly. Where no toolchain can be fetched, the pinned one runs it with
# RUSTC_BOOTSTRAP=1 instead (FUZZ_CARGO below).
nightly:
	@rustup run $(FUZZ_TOOLCHAIN) rustc --version >/dev/null 2>&1 || \
	  rustup toolchain install $(FUZZ_TOOLCHAIN) --profile minimal || \
	  echo "fuzz: no $(FUZZ_TOOLCHAIN) toolchain; using the pinned one with RUSTC_BOOTSTRAP=1" >&2

fuzz-deps: nightly
	@case "$$($(CARGO) fuzz --version 2>/dev/null)" in \
	  *" $(CARGO_FUZZ_VERSION)") ;; \
	  *) $(CARGO) install cargo-fuzz --locked --version $(CARGO_FUZZ_VERSION) ;; \
	esac

# The run's corpus is fuzz/corpus/<target> (gitignored), started from the committed seeds;
# crashes go to fuzz/artifacts/<target>/ (once fixed, keep them in fuzz/regressions/<target>/).
FUZZ_CARGO = $(if $(shell rustup run $(FUZZ_TOOLCHAIN) rustc --version 2>/dev/null),\
  $(CARGO) +$(FUZZ_TOOLCHAIN),RUSTC_BOOTSTRAP=1 $(CARGO))
fuzz: fuzz-deps
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t && cp fuzz/seeds/$$t/* fuzz/corpus/$$t/; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	  (cd fuzz && $(FUZZ_CARGO) fuzz run $(FUZZ_FLAGS) $$t corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1) \
	    || { echo "fuzz: $$t crashed: see fuzz/artifacts/$$t/" >&2; exit 1; }; \
	done


# Steps run in this order even under -j: cheap checks first.
test: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(MAKE) --no-print-directory check-help
	$(MAKE) --no-print-directory check-c
	$(MAKE) --no-print-directory check-notice
	$(MAKE) --no-print-directory check-links
	$(CARGO) test
	$(MAKE) --no-print-directory check-header
	$(MAKE) --no-print-directory abi-test
	$(MAKE) --no-print-directory install-test
	$(MAKE) --no-print-directory ctest
	$(MAKE) --no-print-directory soak-short
	$(MAKE) --no-print-directory store-test
	$(MAKE) --no-print-directory interop-aedes
	$(MAKE) --no-print-directory cell-test-short
	$(MAKE) --no-print-directory outbox-test
	$(MAKE) --no-print-directory umqtt
	$(MAKE) --no-print-directory opencpu
	$(MAKE) --no-print-directory tls-test
	$(MAKE) --no-print-directory lwip-test
	$(MAKE) --no-print-directory cbad
	$(MAKE) --no-print-directory cloud-test
	$(MAKE) --no-print-directory sanitize
	$(MAKE) --no-print-directory arm
	$(MAKE) --no-print-directory qemu
	$(MAKE) --no-print-directory size-check
	$(MAKE) --no-print-directory test-lite
	$(MAKE) --no-print-directory test32
	$(MAKE) --no-print-directory toolchain-test
	$(MAKE) --no-print-directory quickstart
	$(MAKE) --no-print-directory demo
	$(MAKE) --no-print-directory at-test

# --- The session store (feature `store`, docs/STORE.md): its own library build, so the
# default library stays without it ---
STORE_TARGET_DIR := target/store
STORE_LIB := $(STORE_TARGET_DIR)/release/libmqtt_engine.a
STORE_PORT := ports/posix/flash_file.c
# The header of a library built with the store (MQE_FEATURE_STORE, its size and ABI tag);
# searched before include/ by the programs that use the store.
STORE_INCLUDE := $(BUILD)/store/include
STORE_HEADER := $(STORE_INCLUDE)/mqtt_engine.h
$(STORE_LIB): FORCE
	$(CARGO) build --release --features store --target-dir $(STORE_TARGET_DIR)

store-header: $(STORE_HEADER)
$(STORE_HEADER): FORCE
	mkdir -p $(STORE_INCLUDE)
	MQE_HEADER_OUT=$(CURDIR)/$@ $(CARGO) build --features header,store

$(BUILD)/soak_reboot: tests/soak/reboot.c $(STORE_PORT) ports/posix/flash_file.h $(PORT_SRC) $(PORT_HDR) $(STORE_HEADER) $(STORE_LIB) | $(BUILD)
	$(CC) $(C_STRICT) $(CFLAGS) -I$(STORE_INCLUDE) $(C_INCLUDES) tests/soak/reboot.c $(STORE_PORT) $(PORT_SRC) $(STORE_LIB) $(LDFLAGS) -o $@

# Restore cost (docs/STORE.md): run under valgrind --tool=callgrind --toggle-collect=mqe_set_store.
$(BUILD)/store_restore: bench/store_restore.c $(STORE_PORT) ports/posix/flash_file.h $(PORT_SRC) $(PORT_HDR) $(STORE_HEADER) $(STORE_LIB) | $(BUILD)
	$(CC) $(C_STRICT) $(CFLAGS) -I$(STORE_INCLUDE) $(C_INCLUDES) bench/store_restore.c $(STORE_PORT) $(PORT_SRC) $(STORE_LIB) $(LDFLAGS) -o $@

# A publisher with a file-backed flash region, SIGKILLed at random moments and restarted,
# through mosquitto (persistence on); fails on any loss or QoS 2 duplicate.
soak-reboot: $(BUILD)/soak_reboot
	$(call apt_install,$(APT_BROKER))
	$(PYTHON) scripts/soak_reboot.py --q1 10000 --q2 10000 --kills 200 --timeout 900 -- $(BUILD)/soak_reboot

soak-reboot-short: $(BUILD)/soak_reboot
	$(call apt_install,$(APT_BROKER))
	$(PYTHON) scripts/soak_reboot.py --q1 1000 --q2 1000 --kills 20 --timeout 180 -- $(BUILD)/soak_reboot

# The store's Rust tests (power cut at every programmed word, corrupted regions), its clippy,
# and the short reboot soak.
store-test:
	$(CARGO) clippy --features store --all-targets -- -D warnings
	$(CARGO) test --features store --lib --test store_log --test store_session --test fuzz_replay --test ffi_store --test store_figures
	$(MAKE) --no-print-directory soak-reboot-short
	$(MAKE) --no-print-directory qemu-store

# --- ARM: bare-metal libraries, the Cortex-M4 image under QEMU, footprint, 32-bit tests ---
ARM_TARGETS := thumbv6m-none-eabi thumbv7em-none-eabihf armv7a-none-eabi
M4_TARGET   := thumbv7em-none-eabihf
M4_LIB      := target/$(M4_TARGET)/release/libmqtt_engine.a
# The panic-test build gets its own target dir, so it never replaces the real library.
M4_PANIC_LIB := target/panic-test/$(M4_TARGET)/release/libmqtt_engine.a
M4_DIR      := tests/cortex_m
M4_BUILD    := $(BUILD)/cortex_m
M4_CC       := arm-none-eabi-gcc
M4_CFLAGS   := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os -g -std=gnu11 \
  -Wall -Wextra -Werror -ffunction-sections -fdata-sections -Iinclude -I$(M4_DIR)
M4_LDFLAGS  := --specs=nano.specs --specs=nosys.specs -nostartfiles -T $(M4_DIR)/mps2_an386.ld \
  -Wl,--gc-sections -Wl,--no-warn-execstack
# As docs/BUILDING.md says: the C library's memory functions, not the
# archive's. LLVM calls the ARM EABI names (__aeabi_memcpy...), which C code never does, so a
# plain `-lc` ahead of the archive would not pull them and the archive's weak copies (2.7 KB)
# would be linked; `-u` asks for newlib's first.
comma := ,
AEABI_MEM_FUNCS := __aeabi_memcpy __aeabi_memcpy4 __aeabi_memcpy8 __aeabi_memmove \
  __aeabi_memmove4 __aeabi_memmove8 __aeabi_memset __aeabi_memset4 __aeabi_memset8 \
  __aeabi_memclr __aeabi_memclr4 __aeabi_memclr8 memcmp
M4_LIBC     := $(addprefix -Wl$(comma)-u$(comma),$(AEABI_MEM_FUNCS)) -lc
M4_BOARD    := $(addprefix $(M4_DIR)/,startup.c semihost.c board.c)
M4_HDRS     := $(wildcard $(M4_DIR)/*.h) $(HEADER)
M4_LINK_DEPS       := $(M4_DIR)/mps2_an386.ld Makefile
QEMU_M4     := timeout 120 qemu-system-arm -M mps2-an386 -nographic \
  -semihosting-config enable=on,target=native -kernel
# Symbols that would mean an allocator got linked into the library.
ALLOC_SYMBOLS := malloc|calloc|realloc|free|_malloc_r|_free_r|__rust_alloc|__rust_dealloc|__rust_realloc|__rust_alloc_zeroed|__rg_alloc|__rdl_alloc
# 32-bit Linux tests: the engine, client and C-API tests and the lib's unit tests.
TEST32_ARGS := --profile test32 --lib --test engine --test engine_faults --test client --test ffi
TEST32_ENV  := CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc \
  CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER="qemu-arm -L /usr/arm-linux-gnueabihf"

# readelf, not nm: binutils' nm hands the archive's objects to its LLVM plugin first, which
# cannot read rustc's newer bitcode section and then reports "no symbols" for them. The check
# first makes sure it sees the library's own exports, so it cannot pass on an empty listing.
arm:
	$(call apt_install,$(APT_ARM))
	$(RUST_DEPS) --targets $(ARM_TARGETS)
	for target in $(ARM_TARGETS); do $(CARGO) build --release --target $$target || exit 1; done
	@for target in $(ARM_TARGETS); do \
	  lib=target/$$target/release/libmqtt_engine.a; \
	  symbols=$$(arm-none-eabi-readelf -W -s $$lib | awk '$$7 != "UND" && NF >= 8 {print $$8}') || exit 1; \
	  if ! printf '%s\n' "$$symbols" | grep -qx 'mqe_poll'; then \
	    echo "arm: no mqe_poll among $$lib's symbols: the listing is broken" >&2; exit 1; \
	  fi; \
	  if printf '%s\n' "$$symbols" | grep -Ex '($(ALLOC_SYMBOLS))'; then \
	    echo "arm: $$lib defines an allocator symbol (above)" >&2; exit 1; \
	  fi; \
	done; echo "arm: $(ARM_TARGETS) built; no allocator symbol in any"

# MQE_FEATURES applies here too (make lib TARGET=thumbv7em-none-eabihf MQE_FEATURES=lite); the
# images of make qemu and make size expect it empty (the committed header is `full`'s).
M4_LIB_BUILD := $(CARGO) build --release --target $(M4_TARGET) $(FEATURE_ARGS)
$(M4_LIB): FORCE
	$(RUST_DEPS) --targets $(M4_TARGET)
	$(M4_LIB_BUILD)

$(M4_PANIC_LIB): FORCE
	$(RUST_DEPS) --targets $(M4_TARGET)
	$(CARGO) build --release --target $(M4_TARGET) --features panic-test --target-dir target/panic-test

$(M4_BUILD):
	mkdir -p $@

$(M4_BUILD)/full.elf: $(M4_DIR)/app_full.c $(M4_DIR)/cloud_calls.c $(M4_DIR)/cell_calls.c $(M4_DIR)/dead_transport.c $(M4_DIR)/broker.c $(M4_DIR)/stack_meter.c $(M4_BOARD) $(M4_HDRS) $(M4_LINK_DEPS) $(M4_LIB) | $(M4_BUILD)
	$(call apt_install,$(APT_ARM))
	$(M4_CC) $(M4_CFLAGS) $(M4_LDFLAGS) -Wl,-Map=$(@:.elf=.map) $(filter %.c,$^) $(M4_LIBC) $(M4_LIB) -o $@

$(M4_BUILD)/minimal.elf: $(M4_DIR)/app_min.c $(M4_DIR)/broker.c $(M4_DIR)/stack_meter.c $(M4_BOARD) $(M4_HDRS) $(M4_LINK_DEPS) $(M4_LIB) | $(M4_BUILD)
	$(call apt_install,$(APT_ARM))
	$(M4_CC) $(M4_CFLAGS) $(M4_LDFLAGS) -Wl,-Map=$(@:.elf=.map) $(filter %.c,$^) $(M4_LIBC) $(M4_LIB) -o $@

$(M4_BUILD)/panic.elf: $(M4_DIR)/app_panic.c $(M4_BOARD) $(M4_HDRS) $(M4_LINK_DEPS) $(M4_PANIC_LIB) | $(M4_BUILD)
	$(call apt_install,$(APT_ARM))
	$(M4_CC) $(M4_CFLAGS) $(M4_LDFLAGS) -Wl,-Map=$(@:.elf=.map) $(filter %.c,$^) $(M4_LIBC) $(M4_PANIC_LIB) -o $@

# Each image must exit 0 through semihosting and print its PASS line.
qemu: $(M4_BUILD)/full.elf $(M4_BUILD)/minimal.elf $(M4_BUILD)/minimal-lite.elf $(M4_BUILD)/panic.elf
	$(call apt_install,$(APT_QEMU))
	@for image in full minimal minimal-lite panic; do \
	  echo "qemu: $$image.elf"; \
	  $(QEMU_M4) $(M4_BUILD)/$$image.elf </dev/null >$(M4_BUILD)/$$image.log 2>&1; status=$$?; \
	  cat $(M4_BUILD)/$$image.log; \
	  if [ $$status != 0 ] || ! grep -q '^PASS' $(M4_BUILD)/$$image.log; then \
	    echo "qemu: $$image.elf failed (exit $$status)" >&2; exit 1; \
	  fi; \
	done
	@$(MAKE) --no-print-directory check-no-panic

# The release library has no path to a panic: nothing in the linked images reaches core's
# panic entry points or its formatting (which a reachable panic would drag in, kilobytes).
# A new `copy_from_slice`, slice index or unwrap in library code makes this fail; use the
# helpers in src/bytes.rs or `get`.
PANIC_SYMBOLS := core::panicking::|core::fmt::|core::result::unwrap_failed|core::option::expect_failed
check-no-panic: $(M4_BUILD)/full.elf $(M4_BUILD)/minimal.elf $(M4_BUILD)/minimal-lite.elf
	$(call apt_install,$(APT_ARM))
	@for image in full minimal minimal-lite; do \
	  symbols=$$(arm-none-eabi-nm -C $(M4_BUILD)/$$image.elf) || exit 1; \
	  if ! printf '%s\n' "$$symbols" | grep -q ' T mqe_poll$$'; then \
	    echo "check-no-panic: no mqe_poll in $$image.elf: the listing is broken" >&2; exit 1; \
	  fi; \
	  if printf '%s\n' "$$symbols" | grep -E '$(PANIC_SYMBOLS)'; then \
	    echo "check-no-panic: $$image.elf reaches a panic or core::fmt (above)" >&2; exit 1; \
	  fi; \
	done; echo "check-no-panic: full.elf, minimal.elf, minimal-lite.elf: no panic path, no core::fmt"

# --- the size table (docs/FOOTPRINT.md): both profiles, guarded by size_budget.json ---
# The lite profile's library and header have their own target dir, so the default build stays.
.PHONY: size-check
M4_LITE_TARGET := target/lite
M4_LITE_LIB := $(M4_LITE_TARGET)/$(M4_TARGET)/release/libmqtt_engine.a
M4_LITE_HDR := $(M4_BUILD)/lite/mqtt_engine.h
M4_LITE_ARGS := --no-default-features --features lite --target-dir $(M4_LITE_TARGET)
SIZE_BUDGET := $(M4_DIR)/size_budget.json

$(M4_LITE_LIB): FORCE
	$(RUST_DEPS) --targets $(M4_TARGET)
	$(CARGO) build --release --target $(M4_TARGET) $(M4_LITE_ARGS)
$(M4_LITE_HDR): FORCE
	MQE_HEADER_OUT=$(CURDIR)/$@ $(CARGO) build $(M4_LITE_ARGS) --features header

$(M4_BUILD)/minimal-lite.elf: $(M4_DIR)/app_min.c $(M4_DIR)/broker.c $(M4_DIR)/stack_meter.c $(M4_BOARD) $(M4_HDRS) $(M4_LINK_DEPS) $(M4_LITE_HDR) $(M4_LITE_LIB) | $(M4_BUILD)
	$(call apt_install,$(APT_ARM))
	$(M4_CC) -I$(M4_BUILD)/lite $(M4_CFLAGS) $(M4_LDFLAGS) -Wl,-Map=$(@:.elf=.map) $(filter %.c,$^) $(M4_LIBC) $(M4_LITE_LIB) -o $@

# The lite profile's Rust tests (tests of facilities it lacks are cfg'd out), and every facility
# feature alone on top of lite builds warning-free (docs/FOOTPRINT.md names these subsets).
.PHONY: test-lite
LITE_FEATURES := log resubscribe ip-literal offline-queue topic-handlers outbox qos2 reconnect will \
  link stats pending cloud-profiles credentials-cb store
LITE_ABSENT := mqe_post_publish mqe_subscribe_cb mqe_set_log_level mqe_qos0_dropped
test-lite: $(M4_LITE_HDR)
	@for f in $(LITE_ABSENT); do \
	  printf '#include "mqtt_engine.h"\nvoid f(void) { (void)%s; }\n' $$f | \
	    $(CC) $(C_STRICT) -fsyntax-only -I$(M4_BUILD)/lite -x c - 2>/dev/null && \
	    { echo "test-lite: the lite header declares $$f" >&2; exit 1; }; \
	done; echo "test-lite: the lite header declares none of $(LITE_ABSENT)"
	@printf '#include "mqtt_engine.h"\nvoid f(void) { (void)mqe_publish; }\n' | \
	  $(CC) $(C_STRICT) -fsyntax-only -I$(M4_BUILD)/lite -x c - || { echo "test-lite: the probe is broken" >&2; exit 1; }
	$(CC) -std=c89 -pedantic -Wall -Wextra -Werror -fsyntax-only -x c $(M4_LITE_HDR)
	$(CXX) -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only -x c++ $(M4_LITE_HDR)
	$(CARGO) clippy --all-targets $(M4_LITE_ARGS) --features std -- -D warnings
	for f in $(LITE_FEATURES); do \
	  $(CARGO) clippy $(M4_LITE_ARGS) --features $$f -- -D warnings || exit 1; \
	done
	$(CARGO) test $(M4_LITE_ARGS) --features std

SIZE_IMAGES := full minimal-lite
SIZE_RUN = for image in $(SIZE_IMAGES); do \
	  $(QEMU_M4) $(M4_BUILD)/$$image.elf </dev/null >$(M4_BUILD)/$$image.log 2>&1 || { cat $(M4_BUILD)/$$image.log; exit 1; }; \
	done; \
	$(PYTHON) $(M4_DIR)/footprint.py --map lite-minimal=$(M4_BUILD)/minimal-lite.map \
	  --map minimal=$(M4_BUILD)/minimal.map --map full=$(M4_BUILD)/full.map \
	  --run full=$(M4_BUILD)/full.log --run lite-minimal=$(M4_BUILD)/minimal-lite.log \
	  --budget $(SIZE_BUDGET) --readme README.md
size: $(M4_BUILD)/full.elf $(M4_BUILD)/minimal.elf $(M4_BUILD)/minimal-lite.elf
	$(call apt_install,$(APT_QEMU))
	@$(SIZE_RUN) --top $(or $(TOP),15)

# Same toolchain, same bytes: the figures are deterministic, so 2 % is growth, not noise.
# `make size-check SIZE_RECORD=1` writes the measured figures into size_budget.json instead.
size-check: $(M4_BUILD)/full.elf $(M4_BUILD)/minimal.elf $(M4_BUILD)/minimal-lite.elf
	$(call apt_install,$(APT_QEMU))
	@$(SIZE_RUN) $(if $(SIZE_RECORD),--record,--check)

TEST32_TARGETS := armv7-unknown-linux-gnueabihf i686-unknown-linux-gnu
test32:
	$(call apt_install,$(APT_TEST32))
	$(RUST_DEPS) --targets $(TEST32_TARGETS)
	$(TEST32_ENV) $(CARGO) test --target armv7-unknown-linux-gnueabihf $(TEST32_ARGS)
	$(CARGO) test --target i686-unknown-linux-gnu $(TEST32_ARGS)

# The bench links its own build of the library (own target dir, so the default build stays
# as it is) with the `speed` profile (opt-level 3; Debian builds libmosquitto with -O2). The
# window goes to 20, and a QoS 2 subscriber behind mosquitto at full rate needs far more
# remembered ids than the default (see docs/CAPACITIES.md).
BENCH_DIR := $(BUILD)/bench
BENCH_TARGET := target/bench
BENCH_CAPS := MQE_MAX_INFLIGHT=20 MQE_MAX_RX_QOS2=1024
BENCH_CFLAGS := -std=gnu99 -O2 -g -Wall -Wextra -Werror
BENCH_TIMEOUT_S := 1200
# Loopback runs per case (median); the issue asks for 3, 5 steadies it on a shared machine.
BENCH_RUNS ?= 5

# Our bench program, against its own build of the library (make bench and make bench-cpu).
define BENCH_BUILD_MQE
	mkdir -p $(BENCH_DIR)
	$(BENCH_CAPS) CARGO_TARGET_DIR=$(BENCH_TARGET) MQE_HEADER_OUT=$(CURDIR)/$(BENCH_DIR)/mqtt_engine.h \
	  $(CARGO) build --profile speed --features header
	$(CC) $(BENCH_CFLAGS) -I$(BENCH_DIR) -Iports/posix bench/mqe_bench.c $(PORT_SRC) \
	  $(BENCH_TARGET)/speed/libmqtt_engine.a $(LDFLAGS) -o $(BENCH_DIR)/mqe_bench
endef

bench: bench-deps
	$(BENCH_BUILD_MQE)
	$(CC) $(BENCH_CFLAGS) bench/mosq_bench.c -lmosquitto $(LDFLAGS) -o $(BENCH_DIR)/mosq_bench
	timeout $(BENCH_TIMEOUT_S) $(PYTHON) bench/run.py --mqe $(BENCH_DIR)/mqe_bench \
	  --mosq $(BENCH_DIR)/mosq_bench --runs $(BENCH_RUNS) --out bench/results.md

# --- make bench-cpu: part a's callgrind counts only (bench/run.py --only-cpu), ours alone.
# The callgrind files go to build/bench-cpu/ (callgrind_annotate FILE); bench/cpu_at.sh runs
# the same at any older commit (a bisect).
.PHONY: bench-cpu
bench-cpu: bench-deps
	$(BENCH_BUILD_MQE)
	timeout $(BENCH_TIMEOUT_S) $(PYTHON) bench/run.py --mqe $(BENCH_DIR)/mqe_bench --only-cpu \
	  --keep $(BUILD)/bench-cpu

# --- make interop: the broker matrix (scripts/interop.py; docs/BROKERS.md) ---
# Each broker is installed from its package registry into build/interop/ (ejabberd and
# mosquitto from Debian). tests/interop/expected.toml lists the failures each broker's
# deviations from MQTT 3.1.1 cause; anything else, or an expected failure that passes, fails.
INTEROP_DIR     := $(BUILD)/interop
AEDES_STAMP     := $(INTEROP_DIR)/aedes/node_modules/.package-lock.json
RUMQTTD_VERSION := 0.20.0
RUMQTTD_STAMP   := $(INTEROP_DIR)/rumqttd/.v$(RUMQTTD_VERSION)
AMQTT_VERSION   := 0.12.1
AMQTT_STAMP     := $(INTEROP_DIR)/amqtt/.v$(AMQTT_VERSION)
INTEROP_APT_DEPS := ejabberd:/usr/sbin/ejabberdctl
INTEROP_BINS    := $(BUILD)/test_c $(BUILD)/pubsub $(BUILD)/soak
INTEROP_RUN     := $(PYTHON) scripts/interop.py

.PHONY: interop interop-deps interop-aedes

# npm ci installs exactly the committed lock file (aedes pinned in package.json); no install
# scripts run.
$(AEDES_STAMP): tests/interop/aedes/package.json tests/interop/aedes/package-lock.json
	mkdir -p $(INTEROP_DIR)/aedes
	cp tests/interop/aedes/package.json tests/interop/aedes/package-lock.json $(INTEROP_DIR)/aedes/
	cd $(INTEROP_DIR)/aedes && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# Only its MQTT listener is used: no TLS or websocket features. No --locked: the crate's lock
# file predates our rustc. A few minutes of compiling, once.
$(RUMQTTD_STAMP):
	$(CARGO) install rumqttd --version $(RUMQTTD_VERSION) --no-default-features \
	  --root $(INTEROP_DIR)/rumqttd --target-dir $(INTEROP_DIR)/rumqttd-target
	touch $@

$(AMQTT_STAMP):
	$(PYTHON) -m venv $(INTEROP_DIR)/amqtt/venv
	$(INTEROP_DIR)/amqtt/venv/bin/pip install --quiet amqtt==$(AMQTT_VERSION)
	touch $@

interop-deps: deps $(AEDES_STAMP) $(RUMQTTD_STAMP) $(AMQTT_STAMP)
	$(call apt_install,$(INTEROP_APT_DEPS))

interop: interop-deps $(INTEROP_BINS)
	$(INTEROP_RUN)

# The row `make test` runs: aedes installs in seconds.
interop-aedes: deps $(AEDES_STAMP) $(INTEROP_BINS)
	$(INTEROP_RUN) --brokers aedes

# --- make install: what SDK builds consume (pkg/*.in filled in; docs/BUILDING.md) ---
PREFIX  ?= /usr/local
DESTDIR ?=
PKG_BUILD := $(BUILD)/pkg
PKG_VERSION := $(shell sed -n 's/^version = "\([^"]*\)"$$/\1/p' Cargo.toml | head -n 1)
# Recursive (=): rustc is asked only when installing.
PKG_POINTER_BITS = $(shell rustc --print cfg $(if $(TARGET),--target $(TARGET)) | sed -n 's/^target_pointer_width="\(.*\)"$$/\1/p')
PKG_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@TARGET@|$(TARGET)|g' \
  -e 's|@TARGET_NAME@|$(or $(TARGET),host)|g' -e 's|@VERSION@|$(PKG_VERSION)|g' \
  -e 's|@VERSION_MAJOR@|$(word 1,$(subst ., ,$(PKG_VERSION)))|g' \
  -e 's|@VERSION_MINOR@|$(word 2,$(subst ., ,$(PKG_VERSION)))|g' \
  -e 's|@POINTER_BITS@|$(PKG_POINTER_BITS)|g' -e 's|@POINTER_BYTES@|$(shell expr $(PKG_POINTER_BITS) / 8)|g'
INSTALL_ROOT = $(DESTDIR)$(PREFIX)
INSTALL_FILES := lib/libmqtt_engine.a include/mqtt_engine.h lib/pkgconfig/mqtt_engine.pc \
  lib/cmake/mqtt_engine/mqtt_engineConfig.cmake lib/cmake/mqtt_engine/mqtt_engineConfigVersion.cmake

.PHONY: install uninstall install-test

# The header is generated afresh with the same MQE_* capacities as the archive, so the two
# always agree on MQE_CLIENT_SIZE (it covers 32- and 64-bit targets alike).
install: $(TARGET_LIB)
	@case "$(PREFIX)" in /*) ;; *) echo "install: PREFIX must be absolute: $(PREFIX)" >&2; exit 1 ;; esac
	mkdir -p $(PKG_BUILD)
	$(HEADER_GEN)
	cp $(HEADER_GEN_OUT) $(PKG_BUILD)/mqtt_engine.h
	$(PKG_SUBST) pkg/mqtt_engine.pc.in >$(PKG_BUILD)/mqtt_engine.pc
	$(PKG_SUBST) pkg/mqtt_engineConfig.cmake.in >$(PKG_BUILD)/mqtt_engineConfig.cmake
	$(PKG_SUBST) pkg/mqtt_engineConfigVersion.cmake.in >$(PKG_BUILD)/mqtt_engineConfigVersion.cmake
	install -d $(INSTALL_ROOT)/lib/pkgconfig $(INSTALL_ROOT)/lib/cmake/mqtt_engine $(INSTALL_ROOT)/include
	install -m 644 $(TARGET_LIB) $(INSTALL_ROOT)/lib/libmqtt_engine.a
	install -m 644 $(PKG_BUILD)/mqtt_engine.h $(INSTALL_ROOT)/include/mqtt_engine.h
	install -m 644 $(PKG_BUILD)/mqtt_engine.pc $(INSTALL_ROOT)/lib/pkgconfig/mqtt_engine.pc
	install -m 644 $(PKG_BUILD)/mqtt_engineConfig.cmake $(PKG_BUILD)/mqtt_engineConfigVersion.cmake \
	  $(INSTALL_ROOT)/lib/cmake/mqtt_engine/

uninstall:
	rm -f $(addprefix $(INSTALL_ROOT)/,$(INSTALL_FILES))
	-rmdir $(INSTALL_ROOT)/lib/cmake/mqtt_engine

install-test:
	$(call apt_install,$(APT_BROKER) $(APT_ARM) $(APT_INSTALL_TEST))
	MAKE="$(MAKE)" CARGO="$(CARGO)" PYTHON="$(PYTHON)" CC="$(CC)" tests/install/run.sh

clean:
	$(CARGO) clean
	rm -rf $(BUILD)

# --- first-day checks: make help, strict C, the fresh-machine toolchain (see also notice) ---
.PHONY: check-help check-c toolchain-test

# Every .PHONY target (from make's own database) has a `#   make NAME` line at the top, and
# every such line names a .PHONY target. FORCE is the rebuild trigger, not a command.
check-help:
	@phony=$$($(MAKE) -pRrq -f $(firstword $(MAKEFILE_LIST)) : 2>/dev/null | sed -n 's/^\.PHONY: //p'); \
	listed=" $$($(MAKE) -f $(firstword $(MAKEFILE_LIST)) --no-print-directory -s help | awk '$$1 == "make" {printf "%s ", $$2}')"; \
	[ -n "$$phony" ] && [ "$$listed" != " " ] || { echo "check-help: no targets found: the check is broken" >&2; exit 1; }; \
	bad=""; for t in $$phony; do \
	  case "$$t" in FORCE) ;; *) case "$$listed" in *" $$t "*) ;; *) bad="$$bad $$t" ;; esac ;; esac; \
	done; \
	[ -z "$$bad" ] || { echo "check-help: not in make help:$$bad (add a '#   make NAME  what it does' line at the top of the Makefile)" >&2; exit 1; }; \
	for t in $$listed; do \
	  case " $$phony " in *" $$t "*) ;; *) bad="$$bad $$t" ;; esac; \
	done; \
	[ -z "$$bad" ] || { echo "check-help: make help lists what is no .PHONY target:$$bad" >&2; exit 1; }; \
	echo "check-help: the $$(echo $$listed | wc -w) targets of .PHONY are all in make help"

# Every host C file, with exactly C_STRICT and the include paths: a file copied out of the repo
# builds without extra flags. bench/mosq_bench.c needs libmosquitto-dev (make bench only).
HOST_C_SRC := $(sort $(wildcard c_examples/*.c ports/posix/*.c tests/c/*.c tests/c/*/*.c tests/cell/*.c \
  tests/soak/*.c) tests/install/consumer.c bench/mqe_bench.c)
check-c:
	$(call apt_install,$(APT_TLS))
	@for f in $(HOST_C_SRC); do \
	  $(CC) $(C_STRICT) -fsyntax-only $(C_INCLUDES) -Itests/c $$f || { echo "check-c: $$f" >&2; exit 1; }; \
	done; echo "check-c: $(words $(HOST_C_SRC)) host C files compile with $(CC) $(C_STRICT)"

# A Rust home with the pinned toolchain and the host target only, RUSTUP_AUTO_INSTALL=0:
# rust-deps must add the targets (downloads them) and fail fast when it cannot.
toolchain-test:
	tests/toolchain/run.sh

# --- licences: THIRD_PARTY_NOTICES.md, the crates linked into the .a (from Cargo.lock) ---
.PHONY: notice check-notice
notice:
	$(PYTHON) scripts/notice.py
check-notice:
	$(PYTHON) scripts/notice.py --check

# --- the Quectel AT port: ports/quectel_at over the modem emulator (PORTING.md) ---
# The programs written for the POSIX port run unchanged over the modem: tests/at/posix_glue.c
# provides port_posix_transport/_abort/_open_sockets, port_posix.c's own are renamed away.
.PHONY: at-test at-size at-cpu
AT_DIR := ports/quectel_at
AT_SRC := $(AT_DIR)/at_engine.c $(AT_DIR)/quectel_at.c $(AT_DIR)/quectel_at_urc.c
AT_HDR := $(AT_DIR)/at_engine.h $(AT_DIR)/quectel_at.h $(AT_DIR)/quectel_at_internal.h
AT_HOST := tests/at/at_host.c tests/at/posix_glue.c
AT_BUILD := $(BUILD)/at
AT_CFLAGS = $(C_STRICT) $(CFLAGS) -Iinclude -Iports/posix -I$(AT_DIR) -Itests/at -Itests/c \
  -DQAT_MAX_SOCKETS=4
AT_RENAME := -Dport_posix_transport=port_posix_bsd_transport \
  -Dport_posix_open_sockets=port_posix_bsd_open_sockets -Dport_posix_abort=port_posix_bsd_abort
AT_OBJ := $(AT_BUILD)/port_posix_renamed.o
AT_DEPS := $(AT_SRC) $(AT_HDR) $(AT_HOST) tests/at/at_host.h $(AT_OBJ) $(HEADER) $(LIB)
AT_LINK = $(CC) $(AT_CFLAGS) $(filter %.c,$^) $(AT_OBJ) $(LIB) $(LDFLAGS) -o $@
MODEM := $(PYTHON) scripts/modem_emulator.py
# The emulator paces a 115,200-baud UART: the C tests' waits get three times their bound.
at-test: export MQE_TEST_WAIT_MS := 15000
HOST_C_SRC += $(AT_SRC) $(wildcard tests/at/*.c)
C_INCLUDES += -I$(AT_DIR) -Itests/at

$(AT_BUILD):
	mkdir -p $@
$(AT_OBJ): $(PORT_SRC) $(PORT_HDR) $(HEADER) | $(AT_BUILD)
	$(CC) $(AT_CFLAGS) $(AT_RENAME) -c $(PORT_SRC) -o $@
$(AT_BUILD)/pubsub: c_examples/pubsub.c $(AT_DEPS) | $(AT_BUILD)
	$(AT_LINK)
$(AT_BUILD)/test_c: $(CTEST_SRC) $(CTEST_HDR) $(AT_DEPS) | $(AT_BUILD)
	$(AT_LINK)
$(AT_BUILD)/at_cases: tests/at/at_cases.c tests/c/fixture.c tests/c/harness.c $(CTEST_HDR) $(AT_DEPS) | $(AT_BUILD)
	$(AT_LINK)
$(AT_BUILD)/soak: tests/soak/soak.c $(AT_DEPS) | $(AT_BUILD)
	$(AT_LINK)
$(AT_BUILD)/at_cpu: tests/at/at_cpu.c $(AT_SRC) $(AT_HDR) $(HEADER) $(LIB) | $(AT_BUILD)
	$(CC) $(C_STRICT) $(CFLAGS) -Iinclude -I$(AT_DIR) $(filter %.c,$^) $(LIB) $(LDFLAGS) -o $@
$(AT_BUILD)/qat_script_test: tests/at/qat_script_test.c tests/c/harness.c $(AT_SRC) $(AT_HDR) \
  tests/c/harness.h $(HEADER) | $(AT_BUILD)
	$(CC) $(AT_CFLAGS) $(filter %.c,$^) $(LDFLAGS) -o $@
$(AT_BUILD)/at_engine_test: tests/at/at_engine_test.c tests/c/harness.c $(AT_DIR)/at_engine.c \
  $(AT_DIR)/at_engine.h tests/c/harness.h | $(AT_BUILD)
	$(CC) $(AT_CFLAGS) $(filter %.c,$^) $(LDFLAGS) -o $@

# at_engine alone on a scripted UART (every chunking of the modem's bytes), the transport on
# a scripted modem (exact command sequences), then through the emulator: echo off (the port sends ATE0) and echo kept on; SEND FAIL and unrelated URCs injected;
# refused_tcp_connect is left to at_cases: the modem reports any failed TCP connect as
# +QIOPEN: <id>,566 ("socket connect failed"), so the port cannot say "refused".
# the soak's cuts are the emulator's own: socket drops, PDP deactivations, modem restarts.
at-test: $(AT_BUILD)/at_engine_test $(AT_BUILD)/qat_script_test $(AT_BUILD)/at_cpu $(AT_BUILD)/pubsub $(AT_BUILD)/test_c $(AT_BUILD)/at_cases \
  $(AT_BUILD)/soak
	$(call apt_install,$(APT_BROKER))
	$(AT_BUILD)/at_engine_test
	$(AT_BUILD)/qat_script_test
	for q in 0 1 2; do $(AT_BUILD)/at_cpu $$q 100 || exit 1; done
	$(WITH_BROKER) --timeout 90 -- $(MODEM) --timeout 80 -- $(AT_BUILD)/pubsub
	$(WITH_BROKER) --timeout 200 -- $(MODEM) --timeout 190 -- $(AT_BUILD)/test_c '!refused_tcp_connect'
	MQE_MODEM_ECHO=1 $(WITH_BROKER) --timeout 200 -- $(MODEM) --timeout 190 --send-fail-every 5 -- \
	  $(AT_BUILD)/test_c round_trip
	$(WITH_BROKER) --timeout 120 -- $(MODEM) --timeout 110 --noise 0 -- $(AT_BUILD)/at_cases
	$(WITH_BROKER) --timeout 300 -- $(MODEM) --timeout 290 --cut-every 300:900 --min-cuts 20 \
	  --send-fail-every 40 -- $(AT_BUILD)/soak 300 300 240

# Instructions inside the transport calls only (the port, its UART callbacks and libc),
# marginal over AT_CPU_N messages of 32 bytes, host x86-64 at -O2 (as README's figures).
AT_CPU_N := 200
AT_CALLGRIND := valgrind --tool=callgrind --collect-atstart=no $(addprefix --toggle-collect=t_,\
  open connect send recv close)
at-cpu: $(AT_BUILD)/at_cpu
	$(call apt_install,$(APT_VALGRIND))
	@for q in 0 1 2; do \
	  for n in 0 $(AT_CPU_N); do \
	    $(AT_CALLGRIND) --callgrind-out-file=$(AT_BUILD)/at_cpu.$$q.$$n.cg $(AT_BUILD)/at_cpu $$q $$n \
	      >/dev/null 2>&1 || { echo "at-cpu: at_cpu $$q $$n failed" >&2; exit 1; }; \
	  done; \
	  ir0=$$(sed -n 's/^summary: //p' $(AT_BUILD)/at_cpu.$$q.0.cg); \
	  irn=$$(sed -n 's/^summary: //p' $(AT_BUILD)/at_cpu.$$q.$(AT_CPU_N).cg); \
	  echo "at-cpu: QoS $$q: $$(( (irn - ir0) / $(AT_CPU_N) )) instructions per message in the port"; \
	done

# Flash: the port's objects as a Cortex-M4 firmware would build them (every function is
# reached through the transport table, so --gc-sections keeps them all). RAM: qat_modem_t,
# the one object the firmware allocates (QAT_MAX_SOCKETS=2, 1,500-byte receive buffers).
AT_M4_BUILD := $(BUILD)/at_m4
AT_M4_CFLAGS := -mcpu=cortex-m4 -mthumb -Os -ffunction-sections -fdata-sections $(C_STRICT) \
  -Iinclude -I$(AT_DIR)
at-size: $(AT_SRC) $(AT_HDR) tests/at/at_ram.c
	$(call apt_install,$(APT_ARM))
	mkdir -p $(AT_M4_BUILD)
	for f in $(basename $(notdir $(AT_SRC))); do \
	  $(M4_CC) $(AT_M4_CFLAGS) -c $(AT_DIR)/$$f.c -o $(AT_M4_BUILD)/$$f.o || exit 1; \
	done
	$(M4_CC) $(AT_M4_CFLAGS) -c tests/at/at_ram.c -o $(AT_M4_BUILD)/at_ram.o
	arm-none-eabi-size -t $(addprefix $(AT_M4_BUILD)/,$(notdir $(AT_SRC:.c=.o)))
	@echo "RAM (qat_modem_t, bss of at_ram.o):"; arm-none-eabi-size $(AT_M4_BUILD)/at_ram.o

FORCE:

# --- The session store on the Cortex-M4 (after the M4_* and HOST_C_SRC variables it uses) ---
# Its C files need the store's header: check-c leaves them to store-test, which builds them.
HOST_C_SRC := $(filter-out $(STORE_PORT) tests/soak/reboot.c,$(HOST_C_SRC))
M4_STORE_LIB := $(STORE_TARGET_DIR)/$(M4_TARGET)/release/libmqtt_engine.a
$(M4_STORE_LIB): FORCE
	$(RUST_DEPS) --targets $(M4_TARGET)
	$(CARGO) build --release --target $(M4_TARGET) --features store --target-dir $(STORE_TARGET_DIR)

# The full image with the store: a RAM region as its flash, a simulated reset (a new mqe_init
# over the same region) that must resume the session with the DUP re-send.
# The same sources as full.elf (keep the two lists alike), another library.
$(M4_BUILD)/full_store.elf: $(M4_DIR)/app_full.c $(M4_DIR)/cloud_calls.c $(M4_DIR)/cell_calls.c $(M4_DIR)/dead_transport.c $(M4_DIR)/broker.c $(M4_DIR)/stack_meter.c $(M4_BOARD) $(M4_HDRS) $(M4_LINK_DEPS) $(STORE_HEADER) $(M4_STORE_LIB) | $(M4_BUILD)
	$(call apt_install,$(APT_ARM))
	$(M4_CC) -I$(STORE_INCLUDE) $(M4_CFLAGS) $(M4_LDFLAGS) -Wl,-Map=$(@:.elf=.map) $(filter %.c,$^) $(M4_LIBC) $(M4_STORE_LIB) -o $@

# Runs it under QEMU, checks it reaches no panic path, and prints the flash the store adds.
qemu-store: $(M4_BUILD)/full_store.elf $(M4_BUILD)/full.elf
	$(call apt_install,$(APT_QEMU))
	@$(QEMU_M4) $(M4_BUILD)/full_store.elf </dev/null >$(M4_BUILD)/full_store.log 2>&1; status=$$?; \
	  cat $(M4_BUILD)/full_store.log; \
	  if [ $$status != 0 ] || ! grep -q '^PASS' $(M4_BUILD)/full_store.log; then \
	    echo "qemu-store: full_store.elf failed (exit $$status)" >&2; exit 1; \
	  fi
	@if arm-none-eabi-nm -C $(M4_BUILD)/full_store.elf | grep -E '$(PANIC_SYMBOLS)'; then \
	  echo "qemu-store: full_store.elf reaches a panic or core::fmt (above)" >&2; exit 1; \
	fi
	@arm-none-eabi-size $(M4_BUILD)/full.elf $(M4_BUILD)/full_store.elf

check-links:
	$(PYTHON) scripts/check_links.py
