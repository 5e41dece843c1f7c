#!/usr/bin/env python3
"""Soak under faults: mosquitto (persistence on) <- fault_proxy.py <- the C soak clients.

    scripts/soak.py --q1 N --q2 N --min-cuts N [--restart] [--timeout S] -- build/soak

Starts a private mosquitto with persistence on a free 127.0.0.1 port and two
scripts/fault_proxy.py in front of it: one for the publisher (--cut-bytes) and one for the
subscriber (--sub-cut-bytes, fewer cuts: on every reconnect mosquitto replays its whole
backlog to a subscriber, so cutting it as often as the publisher only replays). Runs the soak
program (it gets MQE_BROKER_HOST, MQE_BROKER_PORT, MQE_SUB_PORT and the arguments
"Q1 Q2 TIMEOUT"), and with --restart stops and restarts
the broker (same port, same persistence file) once half the messages are published. Prints
one summary line; fails unless the soak program passed (QoS 1/2 lost = 0, QoS 2 duplicates
= 0) and the proxy cut at least --min-cuts connections. Every process it starts is stopped
by PID; the whole run is bounded by --timeout.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import with_broker  # noqa: E402  (shared helpers: find_mosquitto, free_port, stop, port_accepts)

HOST = with_broker.HOST
HERE = os.path.dirname(os.path.abspath(__file__))


def write_conf(workdir, port):
    path = os.path.join(workdir, "mosquitto.conf")
    with open(path, "w") as f:
        f.write(
            f"listener {port} {HOST}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "autosave_interval 0\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 20\n"
            "log_dest stderr\n"
            "log_type error\n"
            "log_type warning\n"
            "log_timestamp true\n"
        )
    return path


def start_mosquitto(mosquitto, conf, port, log_file, wait_s=5.0):
    proc = subprocess.Popen([mosquitto, "-c", conf], stdin=subprocess.DEVNULL,
                            stdout=log_file, stderr=log_file)
    ready_by = time.monotonic() + wait_s
    while time.monotonic() < ready_by and proc.poll() is None:
        if with_broker.port_accepts(port):
            return proc
        time.sleep(0.05)
    with_broker.stop(proc)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--q1", type=int, required=True)
    ap.add_argument("--q2", type=int, required=True)
    ap.add_argument("--min-cuts", type=int, required=True)
    ap.add_argument("--cut-bytes", default="1:2000")
    ap.add_argument("--sub-cut-bytes", default="20000:200000")
    ap.add_argument("--restart", action="store_true", help="restart the broker mid-stream")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("no soak program given")
    mosquitto = with_broker.find_mosquitto()
    if mosquitto is None:
        sys.stderr.write("soak: mosquitto not found; run `make deps`\n")
        return 127

    deadline = time.monotonic() + args.timeout
    with tempfile.TemporaryDirectory(prefix="mqe-soak-") as workdir:
        # mosquitto may drop root to its own user and must write its persistence file here.
        os.chmod(workdir, 0o777)
        log_path = os.path.join(workdir, "mosquitto.log")
        log_file = open(log_path, "a")
        broker_port = with_broker.free_port()
        conf = write_conf(workdir, broker_port)
        broker = start_mosquitto(mosquitto, conf, broker_port, log_file)
        if broker is None:
            sys.stderr.write("soak: mosquitto did not start\n")
            with_broker.print_log(log_path)
            return 1
        proxies = []
        for name, cut_bytes in (("pub", args.cut_bytes), ("sub", args.sub_cut_bytes)):
            port_file = os.path.join(workdir, f"{name}.port")
            stats_file = os.path.join(workdir, f"{name}.json")
            proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "fault_proxy.py"), "--upstream-port", str(broker_port),
                 "--cut-bytes", cut_bytes, "--timeout", str(args.timeout),
                 "--port-file", port_file, "--stats-file", stats_file],
                stdin=subprocess.DEVNULL)
            proxies.append((proc, port_file, stats_file))
        soak = None
        status = 1
        restarts = 0
        summary = {}
        try:
            ports = []
            for proc, port_file, _ in proxies:
                while not os.path.exists(port_file) and time.monotonic() < deadline and proc.poll() is None:
                    time.sleep(0.05)
                with open(port_file) as f:
                    ports.append(f.read().strip())
            env = dict(os.environ, MQE_BROKER_HOST=HOST, MQE_BROKER_PORT=ports[0], MQE_SUB_PORT=ports[1])
            left = max(1, int(deadline - time.monotonic()) - 5)
            started = time.monotonic()
            soak = subprocess.Popen(command + [str(args.q1), str(args.q2), str(left)], env=env,
                                    stdout=subprocess.PIPE, text=True, start_new_session=True)
            # Read its output on a thread so a silent program cannot hang this loop.
            lines = []
            reader = threading.Thread(target=lambda: lines.extend(iter(soak.stdout.readline, "")), daemon=True)
            reader.start()
            half = (args.q1 + args.q2) // 2
            seen = 0
            while soak.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
                for line in lines[seen:]:
                    seen += 1
                    m = re.match(r"soak: progress (\d+)", line)
                    if args.restart and restarts == 0 and m and int(m.group(1)) >= half:
                        # Graceful stop: mosquitto writes its persistence file, then comes back.
                        with_broker.stop(broker)
                        time.sleep(0.5)
                        broker = start_mosquitto(mosquitto, conf, broker_port, log_file)
                        restarts += 1
                        if broker is None:
                            sys.stderr.write("soak: mosquitto did not restart\n")
                            raise RuntimeError("restart failed")
            if soak.poll() is None:
                sys.stderr.write(f"soak: timed out after {args.timeout:g} s\n")
                with_broker.stop_group(soak)
            reader.join(timeout=5)
            status = soak.returncode if soak.returncode is not None else 124
            wall = time.monotonic() - started
            for line in lines:
                if line.startswith("soak: result"):
                    sys.stdout.write(line)
                    summary.update(dict(kv.split("=", 1) for kv in line.split()[2:] if "=" in kv
                                        and not kv.startswith(("sent", "received"))))
        except (OSError, RuntimeError) as e:
            sys.stderr.write(f"soak: {e}\n")
            status = 1
        finally:
            if soak is not None:
                with_broker.stop_group(soak)
            for proc, _, _ in proxies:
                with_broker.stop(proc)
            if broker is not None:
                with_broker.stop(broker)
            log_file.close()
        cuts = 0
        for _, _, stats_file in proxies:
            try:
                with open(stats_file) as f:
                    cuts += json.load(f)["cuts"]
            except (OSError, ValueError, KeyError):
                sys.stderr.write("soak: no proxy stats\n")
        if cuts < args.min_cuts:
            sys.stderr.write(f"soak: only {cuts} cuts, fewer than {args.min_cuts}\n")
            status = status or 1
        print(f"soak: {args.q1} QoS 1 + {args.q2} QoS 2, {cuts} cuts, {restarts} broker restart(s), "
              f"wall {summary.get('wall_s', '?')} s, {summary.get('msgs_per_s', '?')} msgs/s: "
              f"{'PASS' if status == 0 else 'FAIL'}")
        if status != 0:
            with_broker.print_log(log_path)
        return status


if __name__ == "__main__":
    sys.exit(main())
