#!/usr/bin/env python3
"""Soak under faults: a broker (mosquitto, persistence on) <- fault_proxy.py <- the C soak clients.

    scripts/soak.py --q1 N --q2 N --min-cuts N [--restart] [--broker NAME] [--timeout S] -- build/soak

Starts a private broker (--broker, default mosquitto with persistence; the others are in
scripts/brokers.py) on a free 127.0.0.1 port and two
scripts/fault_proxy.py in front of it: one for the publisher (--cut-bytes) and one for the
subscriber (--sub-cut-bytes, fewer cuts: on every reconnect mosquitto replays its whole
backlog to a subscriber, so cutting it as often as the publisher only replays: past about
2,000 bytes of backlog no connection of it gets an answer out, docs/BROKERS.md; --sub-max-cuts
N stops its cuts after N so that it drains). Runs the soak
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
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brokers  # noqa: E402  (the broker launchers of `make interop`)
import with_broker  # noqa: E402  (shared helpers: free_port, stop, print_log)

HOST = with_broker.HOST
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--q1", type=int, required=True)
    ap.add_argument("--q2", type=int, required=True)
    ap.add_argument("--min-cuts", type=int, required=True)
    ap.add_argument("--cut-bytes", default="1:2000")
    ap.add_argument("--sub-cut-bytes", default="20000:200000")
    ap.add_argument("--sub-max-cuts", type=int, default=None,
                    help="the subscriber's proxy stops cutting after this many cuts (so a subscriber "
                         "whose broker replays more than --sub-cut-bytes per reconnect can drain)")
    ap.add_argument("--restart", action="store_true", help="restart the broker mid-stream")
    ap.add_argument("--broker", default="mosquitto", choices=sorted(brokers.BROKERS),
                    help="which broker (scripts/brokers.py); only a persistent one keeps its "
                         "sessions across --restart")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--broker-log", help="keep the whole broker log at this path")
    ap.add_argument("--tap-dir", help="record both proxies' traffic as DIR/pub.tap and DIR/sub.tap "
                                      "(tests/interop/tap_qos2.py reads them)")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("no soak program given")
    if args.tap_dir:
        os.makedirs(args.tap_dir, exist_ok=True)
        for name in ("pub", "sub"):
            if os.path.exists(os.path.join(args.tap_dir, f"{name}.tap")):
                os.remove(os.path.join(args.tap_dir, f"{name}.tap"))
    deadline = time.monotonic() + args.timeout
    with tempfile.TemporaryDirectory(prefix="mqe-soak-") as workdir:
        log_path = os.path.join(workdir, "broker.log")
        log_file = open(log_path, "a")
        broker = brokers.make(args.broker, workdir, log_file, persistence=True)
        why = broker.missing()
        if why is not None:
            sys.stderr.write(f"soak: {why}\n")
            log_file.close()
            return 127
        broker_port = with_broker.free_port()
        if not broker.start(broker_port):
            sys.stderr.write(f"soak: {args.broker} did not start\n")
            log_file.close()
            with_broker.print_log(log_path)
            return 1
        proxies = []
        for name, cut_bytes, max_cuts in (("pub", args.cut_bytes, None),
                                          ("sub", args.sub_cut_bytes, args.sub_max_cuts)):
            port_file = os.path.join(workdir, f"{name}.port")
            stats_file = os.path.join(workdir, f"{name}.json")
            proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "fault_proxy.py"), "--upstream-port", str(broker_port),
                 "--cut-bytes", cut_bytes, "--timeout", str(args.timeout),
                 "--port-file", port_file, "--stats-file", stats_file]
                + (["--tap", os.path.join(args.tap_dir, f"{name}.tap")] if args.tap_dir else [])
                + (["--max-cuts", str(max_cuts)] if max_cuts is not None else []),
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
                        restarts += 1
                        if not broker.restart():
                            sys.stderr.write(f"soak: {args.broker} did not restart\n")
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
            broker.stop()
            log_file.close()
            if args.broker_log:
                shutil.copyfile(log_path, args.broker_log)
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
        print(f"soak: {args.broker}, {args.q1} QoS 1 + {args.q2} QoS 2, {cuts} cuts, {restarts} broker restart(s), "
              f"wall {summary.get('wall_s', '?')} s, {summary.get('msgs_per_s', '?')} msgs/s: "
              f"{'PASS' if status == 0 else 'FAIL'}")
        if status != 0:
            with_broker.print_log(log_path)
        return status


if __name__ == "__main__":
    sys.exit(main())
