#!/usr/bin/env python3
"""`make bench`: mqtt-engine beside libmosquitto, in one run, on one private mosquitto.

    bench/run.py --mqe BIN --mosq BIN [--out bench/results.md] [--runs 3]
    bench/run.py --mqe BIN --only-cpu [--mosq BIN]   (part a's instruction counts only, in
                                                      about a minute; `make bench-cpu`)

a. CPU per message (callgrind, marginal: (Ir at N - Ir at 0) / N) and syscalls per message
   (strace -c -f, same marginal), for a QoS 0 publish, a QoS 0 receive, a QoS 1 and a QoS 2
   exchange;
b. loopback throughput, publisher -> subscriber in another process, median of --runs runs,
   the two libraries alternating;
c. QoS 1 publish->receive latency, one message at a time;
d. QoS 1 through a 25 ms-each-way delay relay (bench/delay_relay.py), window 1 and 20.

Writes the markdown table to --out and prints it. Every wait is bounded; every process it
starts is stopped by its PID.
"""

import argparse
import datetime
import importlib.util
import os
import platform
import re
import resource
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"
PAYLOAD = 64
RELAY_DELAY_MS = 25

_spec = importlib.util.spec_from_file_location(
    "with_broker", os.path.join(ROOT, "scripts", "with_broker.py"))
with_broker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(with_broker)

# (key, label, mode, N, through the relay): the callgrind and strace workloads; N = 0 is the
# baseline. The exchanges go through a CPU_RELAY_DELAY_MS delay line: on loopback an ack
# sometimes lands inside the poll that sent the packet (one poll per exchange) and sometimes
# after it (two), which made the count bimodal; on any real link it lands after.
CPU_CASES = [
    ("pub0", "QoS 0 publish (encode + send)", "cpu-pub0", 2000, False),
    ("recv0", "QoS 0 receive + dispatch", "cpu-recv0", 500, False),
    ("qos1", "QoS 1 exchange (publisher)", "cpu-qos1", 200, True),
    ("qos2", "QoS 2 exchange (publisher)", "cpu-qos2", 200, True),
]
CPU_RELAY_DELAY_MS = 2
# (label, qos, count, window)
LOOPBACK_CASES = [
    ("QoS 0", 0, 100_000, 1),
    ("QoS 1, window 20", 1, 20_000, 20),
    ("QoS 2, window 20", 2, 10_000, 20),
    ("QoS 1, window 1", 1, 20_000, 1),
    ("QoS 2, window 1", 2, 10_000, 1),
]
CPU_REPEATS = 3
LATENCY_COUNT = 2000
RELAY_COUNT = 500
RELAY_WINDOWS = (1, 20)
SEND_SYSCALLS = ("write", "sendto", "sendmsg", "writev", "send")
# The bench's own waiting (ppoll on the socket, FIONREAD and sleeps in cpu-recv0's setup):
# neither library calls these in its loop.
BENCH_SYSCALLS = ("ppoll", "ioctl", "clock_nanosleep")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, timeout, **kw):
    """Runs cmd to completion (bounded); returns its stdout."""
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


class Broker:
    """One mosquitto on a free port: no persistence, nothing dropped, no-delay, quiet log."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.proc = None
        self.port = None

    def start(self):
        mosquitto = with_broker.find_mosquitto()
        if mosquitto is None:
            raise RuntimeError("mosquitto not found; run `make deps`")
        for _ in range(3):
            port = with_broker.free_port()
            conf = os.path.join(self.workdir, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write(f"listener {port} {HOST}\nallow_anonymous true\npersistence false\n"
                        "max_queued_messages 0\nset_tcp_nodelay true\n"
                        "log_dest stderr\nlog_type error\nlog_type warning\n")
            log_file = open(os.path.join(self.workdir, "mosquitto.log"), "w")
            self.proc = subprocess.Popen([mosquitto, "-c", conf], stdin=subprocess.DEVNULL,
                                         stdout=log_file, stderr=log_file, cwd=self.workdir)
            log_file.close()
            until = time.monotonic() + 5
            while time.monotonic() < until and self.proc.poll() is None:
                if with_broker.port_accepts(port):
                    self.port = port
                    return
                time.sleep(0.05)
            with_broker.stop(self.proc)
        raise RuntimeError("mosquitto did not start")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None:
            with_broker.stop(self.proc)


def start_process(cmd, ready_line, timeout=15.0):
    """Starts cmd and waits (bounded) for it to print ready_line."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        if line.strip() == ready_line:
            return proc
    with_broker.stop(proc)
    raise RuntimeError(f"{cmd} did not print {ready_line!r}: {proc.stderr.read()[-2000:]}")


def finish(proc, timeout):
    """Waits (bounded) for a started process; returns its remaining stdout."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with_broker.stop(proc)
        out, err = proc.communicate()
    if err.strip():
        log(f"{proc.args[0]} said: {err.strip()[-500:]}")
    return out


# ---- a. CPU and syscalls ------------------------------------------------------------------

def callgrind_ir(binary, mode, port, n, out_file):
    run(["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out_file}",
         binary, mode, str(port), str(n)], timeout=300)
    with open(out_file) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {out_file}")


def strace_counts(binary, mode, port, n, out_file):
    run(["strace", "-f", "-c", "-o", out_file, binary, mode, str(port), str(n)], timeout=300)
    counts = {}
    with open(out_file) as f:
        for line in f:
            cols = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(cols) >= 5 and re.match(r"^[\d.]+$", cols[0]) and cols[-1] != "total":
                counts[cols[-1]] = int(cols[3])
    return counts


def start_relay(port, delay_ms):
    """A delay line in front of the broker; returns (process, its port)."""
    relay_port = with_broker.free_port()
    relay = start_process([sys.executable, os.path.join(ROOT, "bench", "delay_relay.py"),
                           str(relay_port), str(port), str(delay_ms)], "ready")
    return relay, relay_port


def measure_cpu(binaries, broker_port, workdir, syscalls=True):
    relay, relay_port = start_relay(broker_port, CPU_RELAY_DELAY_MS)
    try:
        return measure_cpu_cases(binaries, broker_port, relay_port, workdir, syscalls)
    finally:
        with_broker.stop(relay)


def measure_cpu_cases(binaries, broker_port, relay_port, workdir, syscalls=True):
    results = {}
    for key, _label, mode, n, relayed in CPU_CASES:
        port = relay_port if relayed else broker_port
        for lib, binary in binaries.items():
            base = os.path.join(workdir, f"{lib}-{key}")
            ir0 = callgrind_ir(binary, mode, port, 0, f"{base}-0.callgrind")
            # Whatever timing noise is left: the median of CPU_REPEATS runs.
            irn = statistics.median(callgrind_ir(binary, mode, port, n, f"{base}-{n}.callgrind")
                                    for _ in range(CPU_REPEATS))
            sc0, scn = {}, {}
            if syscalls:
                sc0 = strace_counts(binary, mode, port, 0, f"{base}-0.strace")
                scn = strace_counts(binary, mode, port, n, f"{base}-{n}.strace")
            per = {name: (scn.get(name, 0) - sc0.get(name, 0)) / n
                   for name in set(sc0) | set(scn)}
            sends = sum(v for name, v in per.items() if name in SEND_SYSCALLS)
            total = sum(v for name, v in per.items() if name not in BENCH_SYSCALLS)
            results[(key, lib)] = {
                "ir": (irn - ir0) / n,
                "sends": sends,
                "syscalls": total,
                "detail": {k: round(v, 2) for k, v in sorted(per.items())
                           if abs(v) >= 0.01 and k not in BENCH_SYSCALLS},
                "callgrind": f"{base}-{n}.callgrind",
            }
            log(f"cpu {key} {lib}: {results[(key, lib)]['ir']:.0f} Ir/msg, "
                f"{sends:.2f} sends/msg, {total:.2f} syscalls/msg {results[(key, lib)]['detail']}")
    return results


# ---- b, c, d. throughput and latency ----------------------------------------------------

def children_cpu_s():
    """User + system CPU of the children reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu_s(pid):
    """User + system CPU seconds of a running process (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


BROKER_PID = None  # set by main(): the broker's CPU is read around each run


def throughput_once(binary, broker_port, pub_port, qos, count, window, topic):
    """msgs/s = received / (last receive - first publish), clocks of one machine; also the CPU
    seconds of the publisher and of the subscriber (each reaped alone, so each delta is one)."""
    sub = start_process([binary, "sub", str(broker_port), str(qos), str(count), topic], "ready")
    broker0 = process_cpu_s(BROKER_PID)
    cpu0 = children_cpu_s()
    try:
        pub_out = run([binary, "pub", str(pub_port), str(qos), str(count), str(window), topic],
                      timeout=120)
    finally:
        cpu1 = children_cpu_s()
        sub_out = finish(sub, timeout=30)
    cpu2 = children_cpu_s()
    broker_s = process_cpu_s(BROKER_PID) - broker0
    first = int(re.search(r"first_ns=(\d+)", pub_out).group(1))
    m = re.search(r"received=(\d+) first_rx_ns=(\d+) last_rx_ns=(\d+)", sub_out)
    received, _first_rx, last_rx = (int(g) for g in m.groups())
    cpu = {"pub_us": (cpu1 - cpu0) * 1e6 / count, "sub_us": (cpu2 - cpu1) * 1e6 / count,
           "broker_us": broker_s * 1e6 / count, "broker_busy": 0.0}
    if received == 0 or last_rx <= first:
        return 0.0, received, cpu
    cpu["broker_busy"] = broker_s / ((last_rx - first) / 1e9)
    return received / ((last_rx - first) / 1e9), received, cpu


def measure_loopback(binaries, port, runs):
    results = {}
    libs = list(binaries)
    for r in range(runs):
        for label, qos, count, window in LOOPBACK_CASES:
            order = libs if r % 2 == 0 else libs[::-1]
            for lib in order:
                topic = f"bench/tp/{os.getpid()}/{r}/{qos}/{window}/{lib}"
                rate, received, cpu = throughput_once(binaries[lib], port, port, qos, count,
                                                      window, topic)
                if received != count:
                    log(f"WARNING {lib} {label}: received {received} of {count}")
                results.setdefault((label, lib), []).append(rate)
                results.setdefault((label, lib, "cpu"), []).append(cpu)
                log(f"loopback run {r + 1} {label} {lib}: {rate:,.0f} msgs/s, CPU/msg "
                    f"pub {cpu['pub_us']:.1f} us, sub {cpu['sub_us']:.1f} us, broker "
                    f"{cpu['broker_us']:.1f} us ({cpu['broker_busy']:.0%} busy)")
    return results


def measure_latency(binaries, port, runs):
    results = {}
    for r in range(runs):
        for lib in (list(binaries) if r % 2 == 0 else list(binaries)[::-1]):
            out = run([binaries[lib], "lat", str(port), str(LATENCY_COUNT)], timeout=120)
            m = re.search(r"count=(\d+) p50_us=([\d.]+) p99_us=([\d.]+)", out)
            results.setdefault(lib, []).append((float(m.group(2)), float(m.group(3))))
            log(f"latency run {r + 1} {lib}: p50 {m.group(2)} us, p99 {m.group(3)} us")
    return results


def measure_relay(binaries, port):
    relay, relay_port = start_relay(port, RELAY_DELAY_MS)
    results = {}
    try:
        for window in RELAY_WINDOWS:
            for lib in binaries:
                topic = f"bench/relay/{os.getpid()}/{window}/{lib}"
                rate, received, _cpu = throughput_once(binaries[lib], port, relay_port, 1,
                                                       RELAY_COUNT, window, topic)
                if received != RELAY_COUNT:
                    log(f"WARNING relay {lib} w{window}: received {received} of {RELAY_COUNT}")
                results[(window, lib)] = rate
                log(f"relay window {window} {lib}: {rate:,.1f} msgs/s")
    finally:
        with_broker.stop(relay)
    return results


def nodelay_check(binaries, port):
    """TCP_NODELAY as seen on each library's publisher socket (getsockopt in the bench)."""
    found = {}
    for lib, binary in binaries.items():
        out = run([binary, "pub", str(port), "0", "1", "1", f"bench/nd/{lib}"], timeout=30)
        m = re.search(r"nodelay=(\d)", out)
        found[lib] = m is not None and m.group(1) == "1"
    return found


# ---- report ---------------------------------------------------------------------------------

def versions():
    def first_line(cmd):
        try:
            return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=10).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "unknown"
    mosq = first_line([with_broker.find_mosquitto() or "mosquitto", "-h"])
    lib = first_line(["dpkg-query", "-W", "-f", "${Version}", "libmosquitto1"])
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"broker": mosq, "libmosquitto": lib, "cpu": cpu, "cores": os.cpu_count(),
            "kernel": platform.release(),
            "valgrind": first_line(["valgrind", "--version"])}


def ratio(a, b):
    return a / b if b else float("nan")


def report(cpu, loop, lat, relay, nodelay, env, runs, elapsed):
    ok = lambda b: "yes" if b else "**no**"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# mqtt-engine beside libmosquitto",
        "",
        f"Measured {now} by `make bench` ({elapsed:.0f} s). Machine: {env['cores']} cores "
        f"({env['cpu']}), Linux {env['kernel']}, shared with other jobs: compare the ratios, "
        "not the absolute figures.",
        f"Broker: {env['broker']}; libmosquitto {env['libmosquitto']}; {env['valgrind']}. "
        f"Payload {PAYLOAD} bytes; TCP_NODELAY on every socket (ours: {ok(nodelay.get('mqe'))}, "
        f"libmosquitto: {ok(nodelay.get('mosq'))}, broker: set_tcp_nodelay).",
        "Ours is built with `cargo build --profile speed` (opt-level 3; Debian builds "
        "libmosquitto with -O2); the firmware profile, opt-level \"z\", needs about twice the "
        "instructions.",
        "",
        "## a. CPU and syscalls per message",
        "",
        "Instructions counted by callgrind in the measured loop only (library, libc and the "
        "bench's loop; waiting excluded); marginal: (at N - at 0) / N. Syscalls by `strace -c -f`, "
        "same marginal, without the bench's own waits (ppoll, ioctl, clock_nanosleep). Ours: "
        "`mqe_publish` + `mqe_poll` per message over ports/posix/port_posix; libmosquitto: "
        "`mosquitto_publish` + `mosquitto_loop(m, 0, 1)`. The receive case is fed by a bare "
        "TCP publisher (one write for all messages) and measures only the subscriber's loop. The "
        f"exchanges run through a {CPU_RELAY_DELAY_MS} ms delay line, so that every ack lands "
        "after the poll that sent the packet, as on any real link.",
        "",
        "| workload | N | ours: instr/msg | libmosquitto: instr/msg | ours / libmosquitto "
        "| ours: send calls / all syscalls per msg | libmosquitto: send calls / all syscalls per msg |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, label, _mode, n, _relayed in CPU_CASES:
        a, b = cpu[(key, "mqe")], cpu[(key, "mosq")]
        lines.append(f"| {label} | {n} | {a['ir']:,.0f} | {b['ir']:,.0f} | "
                     f"{ratio(a['ir'], b['ir']):.2f} | {a['sends']:.2f} / {a['syscalls']:.2f} | "
                     f"{b['sends']:.2f} / {b['syscalls']:.2f} |")
    lines += ["", "Syscalls per message in detail:", ""]
    for key, label, _mode, _n, _relayed in CPU_CASES:
        lines.append(f"- {label}: ours {cpu[(key, 'mqe')]['detail']}; "
                     f"libmosquitto {cpu[(key, 'mosq')]['detail']}")
    lines += [
        "",
        f"## b. Loopback throughput (msgs/s, median of {runs})",
        "",
        "Publisher -> mosquitto -> subscriber in another process, both of the same library; "
        "msgs/s = received / (last receive - first publish); the libraries alternate. CPU: user + "
        "system time of the publisher and of the subscriber process (getrusage), per message; in "
        "brackets the broker's CPU per message and how busy it was (/proc): near 100 % the "
        "broker, not the clients, sets the rate.",
        "",
        "| case | count | ours | libmosquitto | ours / libmosquitto | runs (ours; libmosquitto) "
        "| CPU µs/msg pub + sub (broker): ours | libmosquitto |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, _qos, count, _w in LOOPBACK_CASES:
        a, b = loop[(label, "mqe")], loop[(label, "mosq")]
        ma, mb = statistics.median(a), statistics.median(b)
        runs_text = ", ".join(f"{x:,.0f}" for x in a) + "; " + ", ".join(f"{x:,.0f}" for x in b)
        cpu_text = []
        for lib in ("mqe", "mosq"):
            runs_cpu = loop[(label, lib, "cpu")]
            pub = statistics.median(c["pub_us"] for c in runs_cpu)
            sub = statistics.median(c["sub_us"] for c in runs_cpu)
            broker = statistics.median(c["broker_us"] for c in runs_cpu)
            busy = statistics.median(c["broker_busy"] for c in runs_cpu)
            cpu_text.append(f"{pub:.1f} + {sub:.1f} ({broker:.1f}, {busy:.0%} busy)")
        lines.append(f"| {label} | {count:,} | {ma:,.0f} | {mb:,.0f} | {ratio(ma, mb):.2f} | "
                     f"{runs_text} | {cpu_text[0]} | {cpu_text[1]} |")
    la = [statistics.median(x) for x in zip(*lat["mqe"])]
    lb = [statistics.median(x) for x in zip(*lat["mosq"])]
    lines += [
        "",
        f"## c. QoS 1 latency, publish -> receive ({LATENCY_COUNT:,} messages one at a time, "
        f"median of {len(lat['mqe'])} runs)",
        "",
        "| | p50 (µs) | p99 (µs) |",
        "| --- | --- | --- |",
        f"| ours | {la[0]:.1f} | {la[1]:.1f} |",
        f"| libmosquitto | {lb[0]:.1f} | {lb[1]:.1f} |",
        f"| ours / libmosquitto | {ratio(la[0], lb[0]):.2f} | {ratio(la[1], lb[1]):.2f} |",
        "",
        f"## d. QoS 1 over a {2 * RELAY_DELAY_MS} ms RTT link ({RELAY_COUNT} messages)",
        "",
        f"The publisher connects through bench/delay_relay.py ({RELAY_DELAY_MS} ms each way, a "
        "delay line that keeps the throughput); the subscriber connects directly. Bound = "
        f"window / RTT.",
        "",
        "| window | bound | ours | libmosquitto | ours / bound | libmosquitto / bound |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for w in RELAY_WINDOWS:
        bound = w / (2 * RELAY_DELAY_MS / 1000)
        a, b = relay[(w, "mqe")], relay[(w, "mosq")]
        lines.append(f"| {w} | {bound:.0f} | {a:.1f} | {b:.1f} | {a / bound:.2f} | {b / bound:.2f} |")
    pub0 = cpu[("pub0", "mqe")]
    med = lambda label, lib: statistics.median(loop[(label, lib)])
    r0, r1, r2 = (ratio(med(l, "mqe"), med(l, "mosq"))
                  for l in ("QoS 0", "QoS 1, window 20", "QoS 2, window 20"))
    relay20 = relay[(20, "mqe")] / (20 / (2 * RELAY_DELAY_MS / 1000))
    lines += [
        "",
        "## Goals (issue 7)",
        "",
        "| goal | measured | met |",
        "| --- | --- | --- |",
        f"| QoS 0 publish <= 1,000 instructions | {pub0['ir']:,.0f} | {ok(pub0['ir'] <= 1000)} |",
        f"| QoS 0 publish: 1 write syscall (libmosquitto: 2) | {pub0['sends']:.2f} | "
        f"{ok(pub0['sends'] <= 1.05)} |",
        f"| QoS 0 publish: 1 syscall in all | {pub0['syscalls']:.2f} | "
        f"{ok(pub0['syscalls'] <= 1.05)} |",
        f"| loopback QoS 0 / QoS 1 w20 / QoS 2 w20 >= 1.1x | {r0:.2f} / {r1:.2f} / {r2:.2f} | "
        f"{ok(min(r0, r1, r2) >= 1.1)} |",
        f"| latency p50 and p99 <= libmosquitto | {la[0]:.1f} / {la[1]:.1f} vs "
        f"{lb[0]:.1f} / {lb[1]:.1f} µs | {ok(la[0] <= lb[0] and la[1] <= lb[1])} |",
        f"| 50 ms RTT, window 20 >= 0.95 x bound | {relay20:.2f} x | {ok(relay20 >= 0.95)} |",
        "",
    ]
    return "\n".join(lines)


def only_cpu(binaries, keep):
    """Part a's instruction counts only (no strace, no b/c/d, no results.md): a quick check,
    and what a bisect runs at each commit. Prints one line per workload and a summary line."""
    with tempfile.TemporaryDirectory(prefix="mqe-bench-cpu-") as workdir:
        os.chmod(workdir, 0o755)
        broker = Broker(workdir)
        broker.start()
        try:
            cpu = measure_cpu(binaries, broker.port, workdir, syscalls=False)
            if keep:
                os.makedirs(keep, exist_ok=True)
                for (key, lib), res in cpu.items():
                    shutil.copy(res["callgrind"], os.path.join(keep, f"{lib}-{key}.callgrind"))
        finally:
            broker.stop()
    for key, label, _mode, n, _relayed in CPU_CASES:
        cells = "  ".join(f"{lib} {cpu[(key, lib)]['ir']:8,.0f}" for lib in binaries)
        print(f"{label:32} N={n:5}  {cells}")
    print("instr/msg " + " / ".join(f"{cpu[(key, 'mqe')]['ir']:,.0f}"
                                    for key, *_ in CPU_CASES) + " (pub0 / recv0 / qos1 / qos2)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mqe", required=True)
    parser.add_argument("--mosq")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results.md"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only-cpu", action="store_true",
                        help="part a's callgrind counts only; --mosq optional; writes no --out")
    parser.add_argument("--keep", help="--only-cpu: copy the N-message callgrind files here")
    args = parser.parse_args()
    if args.only_cpu:
        if shutil.which("valgrind") is None:
            sys.exit("bench: valgrind not found (make bench-deps installs it)")
        binaries = {"mqe": os.path.abspath(args.mqe)}
        if args.mosq:
            binaries["mosq"] = os.path.abspath(args.mosq)
        only_cpu(binaries, args.keep)
        return
    if not args.mosq:
        parser.error("--mosq is required (except with --only-cpu)")
    for tool in ("valgrind", "strace"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} not found (make bench installs it)")
    binaries = {"mqe": os.path.abspath(args.mqe), "mosq": os.path.abspath(args.mosq)}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mqe-bench-") as workdir:
        os.chmod(workdir, 0o755)
        broker = Broker(workdir)
        broker.start()
        global BROKER_PID
        BROKER_PID = broker.proc.pid
        try:
            log(f"broker on {HOST}:{broker.port}")
            nodelay = nodelay_check(binaries, broker.port)
            cpu = measure_cpu(binaries, broker.port, workdir)
            keep = os.path.join(ROOT, "build", "bench")
            os.makedirs(keep, exist_ok=True)
            for (key, lib), res in cpu.items():
                if lib == "mqe":
                    shutil.copy(res["callgrind"], os.path.join(keep, f"{lib}-{key}.callgrind"))
            loop = measure_loopback(binaries, broker.port, args.runs)
            lat = measure_latency(binaries, broker.port, args.runs)
            relay = measure_relay(binaries, broker.port)
            if not broker.alive():
                raise RuntimeError("mosquitto exited during the run")
        finally:
            broker.stop()
    text = report(cpu, loop, lat, relay, nodelay, versions(), args.runs,
                  time.monotonic() - started)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    log(f"wrote {args.out}; callgrind files of ours in build/bench/ (callgrind_annotate FILE)")


if __name__ == "__main__":
    main()
