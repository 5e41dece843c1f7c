#!/bin/sh
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Runs a program with lwIP on a TAP device and mosquitto on the other side of it, inside a
# private network namespace:
#
#   scripts/lwip_netns.sh [--timeout S] -- PROGRAM [ARGS...]
#
#   namespace mqe-lwip-<pid>:  lo (up)
#     TAP mqetap<pid>, kernel end 192.0.2.1/24 (TEST-NET-1): mosquitto listens there
#     the program opens the TAP through /dev/net/tun (lwIP's tapif) and is 192.0.2.2
#     IPv6 too, when the namespace has it: 2001:db8::1 (mosquitto on port 1884), 2001:db8::2
#
# Nothing leaves the machine: the namespace has no other interface and no route. The program
# gets PRECONFIGURED_TAPIF, LWIP_TEST_IP, MQE_BROKER_HOST/PORT, LWIP_TEST_IP6 and
# MQE_BROKER_HOST6/PORT6 (empty without IPv6, LWIP_TEST_NO_IP6 then says why), LWIP_TEST_CUT /
# LWIP_TEST_HEAL, the commands that take the TAP link down and up. On exit (or a signal)
# mosquitto is stopped by its PID and the namespace and the TAP are deleted.
# Exit status: the program's; 124 on timeout; 77 when it cannot run here (not root, no
# namespaces, no /dev/net/tun), with the reason on stderr.
set -u

TIMEOUT_S=120
if [ "${1:-}" = "--timeout" ]; then TIMEOUT_S=$2; shift 2; fi
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || { echo "usage: $0 [--timeout S] -- PROGRAM [ARGS...]" >&2; exit 2; }

NS=mqe-lwip-$$
TAP=mqetap$$
KERNEL_IP=192.0.2.1
LWIP_IP=192.0.2.2
KERNEL_IP6=2001:db8::1 # documentation prefix, on the TAP only
LWIP_IP6=2001:db8::2
PORT6=1884
PORT=1883
SKIP=77
WORK=""
BROKER_PID=""
NS_MADE=0

skip() { echo "lwip_netns: cannot run here: $*" >&2; exit $SKIP; }

cleanup() {
    status=$?
    trap - EXIT INT TERM
    if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill "$BROKER_PID" 2>/dev/null
        i=0
        while kill -0 "$BROKER_PID" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$BROKER_PID" 2>/dev/null
    fi
    if [ $NS_MADE = 1 ]; then
        ip netns exec "$NS" ip link del "$TAP" 2>/dev/null
        ip netns del "$NS" 2>/dev/null || echo "lwip_netns: could not delete namespace $NS" >&2
    fi
    if [ -n "$WORK" ]; then
        if [ $status != 0 ] && [ $status != $SKIP ] && [ -f "$WORK/mosquitto.log" ]; then
            echo "----- mosquitto log (last 60 lines) -----" >&2
            tail -n 60 "$WORK/mosquitto.log" >&2
        fi
        rm -rf "$WORK"
    fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || skip "creating a network namespace and a TAP device needs root (uid $(id -u))"
command -v ip >/dev/null 2>&1 || skip "no 'ip' command (iproute2)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun (TUN/TAP driver)"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQUITTO" ] || { echo "lwip_netns: mosquitto not found; run make deps" >&2; exit 127; }

err=$(ip netns add "$NS" 2>&1) || skip "ip netns add failed: $err"
NS_MADE=1
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up || exit 1
in_ns ip tuntap add dev "$TAP" mode tap || exit 1
in_ns ip addr add "$KERNEL_IP/24" dev "$TAP" || exit 1
# Frames to lwIP stay within 590 bytes: Debian's liblwip (2.1.3+dfsg1-2) overruns its pool
# pbufs (616-byte blocks that pbuf_alloc fills up to 1,536 bytes) when tapif receives a longer
# one. IPv4: the route's MTU is 576 (14 + 576 fit; TCP then sends at most 536-byte segments).
# IPv6 needs a link MTU of 1280: its test sends only short packets.
V4_ROUTE="ip route replace 192.0.2.0/24 dev $TAP proto kernel scope link src $KERNEL_IP mtu lock 576"
in_ns ip link set "$TAP" mtu 1280 up || exit 1
in_ns $V4_ROUTE || exit 1

# IPv6 when the namespace has it (some containers disable it); else the test is told why.
NO_IP6=""
err=$(in_ns ip addr add "$KERNEL_IP6/64" dev "$TAP" nodad 2>&1) || NO_IP6="ip addr add $KERNEL_IP6: $err"
if [ -n "$NO_IP6" ]; then KERNEL_IP6=""; LWIP_IP6=""; fi

WORK=$(mktemp -d /tmp/mqe-lwip.XXXXXX) || exit 1
chmod 755 "$WORK" # mosquitto may drop root for its own user
cat >"$WORK/mosquitto.conf" <<EOF
listener $PORT $KERNEL_IP
allow_anonymous true
persistence false
max_queued_messages 0
log_dest stderr
log_type all
connection_messages true
log_timestamp true
EOF
[ -n "$KERNEL_IP6" ] && echo "listener $PORT6 $KERNEL_IP6" >>"$WORK/mosquitto.conf"
# ip netns exec execs the command itself: $! is mosquitto's PID.
ip netns exec "$NS" "$MOSQUITTO" -c "$WORK/mosquitto.conf" </dev/null >"$WORK/mosquitto.log" 2>&1 &
BROKER_PID=$!
i=0
until grep -q "mosquitto version .* running" "$WORK/mosquitto.log" 2>/dev/null; do # every listener open
    i=$((i + 1))
    if [ $i -gt 50 ] || ! kill -0 "$BROKER_PID" 2>/dev/null; then
        echo "lwip_netns: mosquitto did not start" >&2
        exit 1
    fi
    sleep 0.1
done

CUT="ip link set $TAP down" # run by the program, already inside the namespace
HEAL="ip link set $TAP up && $V4_ROUTE" # link up re-creates the route, without its MTU
timeout -k 5 "$TIMEOUT_S" ip netns exec "$NS" env PRECONFIGURED_TAPIF="$TAP" LWIP_TEST_IP="$LWIP_IP" \
    MQE_BROKER_HOST="$KERNEL_IP" MQE_BROKER_PORT="$PORT" LWIP_TEST_CUT="$CUT" LWIP_TEST_HEAL="$HEAL" \
    LWIP_TEST_IP6="$LWIP_IP6" MQE_BROKER_HOST6="$KERNEL_IP6" MQE_BROKER_PORT6="$PORT6" \
    LWIP_TEST_NO_IP6="$NO_IP6" \
    "$@"
status=$?
[ $status = 124 ] && echo "lwip_netns: timed out after $TIMEOUT_S s: $*" >&2
kill -0 "$BROKER_PID" 2>/dev/null || { echo "lwip_netns: mosquitto exited during the run" >&2; [ $status = 0 ] && status=1; }
exit $status
