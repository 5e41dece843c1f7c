#!/usr/bin/env python3
"""Reboot soak: a publisher whose session store is a file-backed flash region is killed with
SIGKILL at random moments and restarted, against mosquitto (persistence on, persistent
sessions); a subscriber (never killed) counts what arrives.

    scripts/soak_reboot.py --q1 N --q2 N --kills N [--timeout S] -- build/soak_reboot

Fails unless: at least --kills kills happened, the last publisher run finished (everything
published and complete), QoS 1 lost = 0, QoS 2 lost = 0 and QoS 2 duplicated = 0. A message
whose publish a kill interrupted (the app's log says "U") is not counted lost if it never
arrived: its fate was unknown to the app, which never publishes it again. Every process it
starts is stopped by PID; the whole run is bounded by --timeout.
"""

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import with_broker  # noqa: E402  (find_mosquitto, free_port, port_accepts, stop)


def write_conf(workdir, port):
    """mosquitto on 127.0.0.1 with persistence on, so sessions outlive everything."""
    path = os.path.join(workdir, "mosquitto.conf")
    with open(path, "w") as f:
        f.write(
            f"listener {port} {with_broker.HOST}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "autosave_interval 0\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 20\n"
            "log_dest stderr\n"
            "log_type error\n"
            "log_type warning\n"
        )
    return path


def start_mosquitto(mosquitto, conf, port, log_file, wait_s=5.0):
    proc = subprocess.Popen([mosquitto, "-c", conf], stdin=subprocess.DEVNULL,
                            stdout=log_file, stderr=log_file)
    ready_by = time.monotonic() + wait_s
    while time.monotonic() < ready_by and proc.poll() is None:
        if with_broker.port_accepts(port):
            return proc
        time.sleep(0.02)
    with_broker.stop(proc)
    raise RuntimeError("mosquitto did not start")


def read_uncertain(path):
    uncertain = set()
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "U":
                uncertain.add((int(parts[1]), int(parts[2])))
    return uncertain


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--q1", type=int, required=True)
    ap.add_argument("--q2", type=int, required=True)
    ap.add_argument("--kills", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = [c for c in args.cmd if c != "--"]
    if len(cmd) != 1:
        ap.error("give the soak_reboot binary after --")
    binary = cmd[0]
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    deadline = time.monotonic() + args.timeout
    mosquitto = with_broker.find_mosquitto()
    procs = []
    with tempfile.TemporaryDirectory(prefix="mqe-reboot-") as workdir:
        port = with_broker.free_port()
        conf = write_conf(workdir, port)
        broker_log = open(os.path.join(workdir, "mosquitto.log"), "w")
        broker = start_mosquitto(mosquitto, conf, port, broker_log)
        procs.append(broker)
        env = dict(os.environ, MQE_BROKER_HOST=with_broker.HOST, MQE_BROKER_PORT=str(port))
        tag = f"{seed:08x}"
        flash = os.path.join(workdir, "flash.bin")
        applog = os.path.join(workdir, "app.log")
        done = os.path.join(workdir, "done")
        sub_out = open(os.path.join(workdir, "sub.out"), "w+")
        sub = subprocess.Popen([binary, "sub", tag, str(args.q1), str(args.q2), done],
                               env=env, stdin=subprocess.DEVNULL, stdout=sub_out,
                               stderr=subprocess.STDOUT)
        procs.append(sub)
        kills = 0
        finished = False
        runs = 0
        failure = None
        try:
            while time.monotonic() < deadline:
                sub_out.seek(0)
                if "sub: ready" in sub_out.read():
                    break
                time.sleep(0.05)
            else:
                failure = "the subscriber never subscribed"
            while failure is None and time.monotonic() < deadline:
                runs += 1
                pub = subprocess.Popen([binary, "pub", flash, applog, tag, str(args.q1),
                                        str(args.q2)], env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
                procs.append(pub)
                if kills < args.kills:
                    # Random moments: during start-up and restore, and mid-stream.
                    time.sleep(rng.uniform(0.005, 0.12))
                    if pub.poll() is None:
                        pub.send_signal(signal.SIGKILL)
                        pub.wait()
                        kills += 1
                        procs.remove(pub)
                        continue
                out, err = pub.communicate(timeout=max(1.0, deadline - time.monotonic()))
                procs.remove(pub)
                if pub.returncode != 0:
                    failure = f"publisher run {runs} exited {pub.returncode}: {err.strip()}"
                    break
                if "pub: done" in out:
                    finished = kills >= args.kills
                    if finished:
                        break
            open(done, "w").close()
            sub.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            failure = failure or "timed out"
        finally:
            for p in procs:
                with_broker.stop(p)
        sub_out.seek(0)
        sub_text = sub_out.read()
        uncertain = read_uncertain(applog) if os.path.exists(applog) else set()
        missing = set()
        for m in re.finditer(r"^sub: missing (\d) (\d+)$", sub_text, re.M):
            missing.add((int(m.group(1)), int(m.group(2))))
        result = re.search(r"qos1 received=(\d+) duplicated=(\d+) qos2 received=(\d+) "
                           r"duplicated=(\d+) unknown=(\d+)", sub_text)
        lost = missing - uncertain
        lost1 = sum(1 for q, _ in lost if q == 1)
        lost2 = sum(1 for q, _ in lost if q == 2)
        dup2 = int(result.group(4)) if result else -1
        dup1 = int(result.group(2)) if result else -1
        unknown = int(result.group(5)) if result else -1
        print(f"soak-reboot: seed={seed} kills={kills} runs={runs} finished={finished} "
              f"qos1 lost={lost1} duplicated={dup1} qos2 lost={lost2} duplicated={dup2} "
              f"unknown={unknown} uncertain={len(uncertain)} "
              f"(of which arrived {len(uncertain - missing)})")
        ok = (failure is None and finished and result is not None and lost1 == 0 and lost2 == 0
              and dup2 == 0 and unknown == 0 and kills >= args.kills)
        if not ok:
            print(f"soak-reboot: FAIL {failure or ''}", file=sys.stderr)
            print(sub_text[-2000:], file=sys.stderr)
            return 1
        return 0


if __name__ == "__main__":
    sys.exit(main())
