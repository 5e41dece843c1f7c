#!/usr/bin/env python3
"""The broker matrix: the C suite, the demo and the short soak against each broker.

    scripts/interop.py [--brokers aedes,rumqttd] [--checks ctest,demo,soak]
                       [--expected tests/interop/expected.toml] [--logs build/interop/logs]

Each cell gets a fresh broker (scripts/brokers.py) on a free 127.0.0.1 port, bounded in time:
- ctest: build/test_c (`make ctest`'s binary); the cell lists the C cases that failed;
- demo:  build/pubsub;
- soak:  scripts/soak.py with build/soak, 1,000 QoS 1 + 1,000 QoS 2 through cutting proxies;
         the broker restart step only where the expected file says the broker keeps its
         sessions across a restart (the others keep them in memory only).
Brokers that can check a login run with MQE_BROKER_USER / MQE_BROKER_PASS set.

Prints the table broker x check: pass, xfail (a failure the expected file names, with the
deviation), FAIL (a failure it does not name) or XPASS (it names a failure that did not
happen). Exits 1 on any FAIL or XPASS, so the expected file stays honest. Every cell's output
is kept in --logs.
"""

import argparse
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brokers  # noqa: E402
import with_broker  # noqa: E402  (free_port, stop_group)

ROOT = brokers.ROOT
CHECKS = ("ctest", "demo", "soak")
TIMEOUT_S = {"ctest": 300, "demo": 60, "soak": 150}
SOAK_ARGS = ["--q1", "1000", "--q2", "1000", "--min-cuts", "20"]
START_ATTEMPTS = 3


def load_expected(path):
    """{broker: {"version", "soak_restart", "why_no_restart"}}, and {(broker, cell): [dev]}.

    A cell is "demo", "soak", "ctest" (the whole run) or "ctest:<case>"."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    settings = data.get("brokers", {})
    expected = {}
    for dev in data.get("deviation", []):
        for broker, cells in dev.get("fails", {}).items():
            for cell in cells:
                expected.setdefault((broker, cell), []).append(dev)
    return settings, expected


def run(cmd, env, timeout_s, log_path):
    """Runs cmd in its own session with output to log_path; (status, output, timed_out)."""
    with open(log_path, "w") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
        timed_out = False
        try:
            status = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            with_broker.stop_group(proc)
            status = 124
    with open(log_path, errors="replace") as log:
        return status, log.read(), timed_out


class Cell:
    def __init__(self, broker, check):
        self.broker = broker
        self.check = check
        self.ok = False
        self.failed_cases = []  # ctest: the C cases that failed
        self.note = ""  # what happened, short
        self.incomplete = False  # ctest: timed out, no summary line, or the broker died
        self.verdict = ""  # pass / xfail / FAIL / XPASS
        self.devs = []  # deviations that explain it
        self.unexpected = []  # failing cells nobody expected
        self.xpass = []  # expected failures that did not happen
        self.log = ""


def start_broker(name, workdir, log_file, env):
    broker = brokers.make(name, workdir, log_file, env=env)
    for _ in range(START_ATTEMPTS):
        if broker.start(with_broker.free_port()):
            return broker
    return None


def run_program(cell, name, cmd, env, logs):
    """ctest / demo: a fresh broker, the program against it, the broker stopped."""
    cell.log = os.path.join(logs, f"{name}-{cell.check}.log")
    with tempfile.TemporaryDirectory(prefix=f"mqe-interop-{name}-") as workdir:
        broker_log_path = os.path.join(logs, f"{name}-{cell.check}.broker.log")
        with open(broker_log_path, "w") as broker_log:
            broker = start_broker(name, workdir, broker_log, env)
            if broker is None:
                cell.note = f"{name} did not start (see {broker_log_path})"
                return
            try:
                env = dict(env, MQE_BROKER_HOST=brokers.HOST, MQE_BROKER_PORT=str(broker.port))
                status, out, timed_out = run(cmd, env, TIMEOUT_S[cell.check], cell.log)
                died = not broker.alive()
            finally:
                broker.stop()
    cell.ok = status == 0
    if cell.check == "ctest":
        cell.failed_cases = re.findall(r"^FAIL (\S+)", out, re.M)
        m = re.search(r"^(\d+) passed, (\d+) failed$", out, re.M)
        cell.note = f"{m.group(1)} passed, {m.group(2)} failed" if m else "no summary line"
        cell.incomplete = m is None
    else:
        last = [line for line in out.splitlines() if line.strip()][-1:]
        cell.note = last[0][:60] if last else ""
    if timed_out:
        cell.note += f"; timed out after {TIMEOUT_S[cell.check]} s"
        cell.incomplete = True
    if died:
        cell.note += f"; {name} exited during the run"
        cell.ok = False
        cell.incomplete = True


def run_soak(cell, name, restart, env, logs):
    cell.log = os.path.join(logs, f"{name}-soak.log")
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "soak.py"), "--broker", name, *SOAK_ARGS,
           "--timeout", str(TIMEOUT_S["soak"] - 20),
           "--broker-log", os.path.join(logs, f"{name}-soak.broker.log")] + (["--restart"] if restart else []) + \
          ["--", os.path.join(ROOT, "build", "soak")]
    status, out, timed_out = run(cmd, env, TIMEOUT_S["soak"], cell.log)
    cell.ok = status == 0
    facts = []
    for q in ("qos1", "qos2"):
        m = re.search(rf"^soak: result {q} sent=(\d+) received=(\d+) lost=(\d+) duplicated=(\d+)", out, re.M)
        if m:
            facts.append(f"{q}: sent {m.group(1)} lost {m.group(3)} dup {m.group(4)}")
    m = re.search(r"^soak: .* (\d+) cuts, (\d+) broker restart", out, re.M)
    if m:
        facts.append(f"{m.group(1)} cuts, {m.group(2)} restart")
    cell.note = "; ".join(facts) or "no result line"
    if timed_out:
        cell.note += "; timed out"


def judge(cell, expected):
    """Sets cell.verdict from what happened and what the expected file says."""
    key = (cell.broker, cell.check)
    if cell.check == "ctest":
        wanted = {c.split(":", 1)[1] for (b, c) in expected if b == cell.broker and c.startswith("ctest:")}
        whole = expected.get(key, [])
        failed = set(cell.failed_cases)
        # The run failed beyond its cases: a timeout, a crash, no summary, the broker died.
        ran_out = not cell.ok and (not failed or cell.incomplete)
        cell.unexpected = sorted(failed - wanted)
        if ran_out and not whole:
            cell.unexpected.append("(run)")
        cell.xpass = sorted(wanted - failed)
        if whole and cell.ok:
            cell.xpass.append("(run)")
        for case in sorted(failed & wanted):
            cell.devs += [d for d in expected[(cell.broker, f"ctest:{case}")] if d not in cell.devs]
        if ran_out:
            cell.devs += [d for d in whole if d not in cell.devs]
    else:
        devs = expected.get(key, [])
        # A deviation marked `sometimes` may or may not show in one run: a pass is no XPASS.
        if cell.ok and devs and not all(d.get("sometimes") for d in devs):
            cell.xpass = [cell.check]
        elif not cell.ok and not devs:
            cell.unexpected = [cell.check]
        elif not cell.ok:
            cell.devs = list(devs)
    if cell.unexpected:
        cell.verdict = "FAIL"
    elif cell.xpass:
        cell.verdict = "XPASS"
    elif cell.devs:
        cell.verdict = "xfail"
    else:
        cell.verdict = "pass"


def summary(cell):
    if cell.check == "ctest" and cell.failed_cases:
        return f"{cell.verdict} ({len(cell.failed_cases)} case{'s' if len(cell.failed_cases) > 1 else ''})"
    return cell.verdict


def print_table(names, checks, cells, settings, versions):
    header = ["broker", "version"] + list(checks)
    rows = [header]
    for name in names:
        row = [name, versions.get(name, "?")]
        for check in checks:
            cell = cells.get((name, check))
            text = summary(cell) if cell else "-"
            if check == "soak" and cell and not settings.get(name, {}).get("soak_restart", False):
                text += ", no restart"
            row.append(text)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for i, row in enumerate(rows):
        print("  ".join(text.ljust(w) for text, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def print_details(names, checks, cells, settings):
    print()
    for name in names:
        why = settings.get(name, {}).get("why_no_restart")
        if why and "soak" in checks:
            print(f"{name}: soak without the broker restart: {why}")
        for check in checks:
            cell = cells.get((name, check))
            if cell is None:
                continue
            line = f"{name} {check}: {cell.verdict}: {cell.note}"
            print(line)
            for case in cell.failed_cases:
                ids = [d["id"] for d in cell.devs
                       if f"ctest:{case}" in d.get("fails", {}).get(name, [])]
                print(f"    {case}: {', '.join(ids) if ids else 'NOT EXPECTED'}")
            if cell.check != "ctest":
                for dev in cell.devs:
                    print(f"    {dev['id']}: {dev['what']}")
            if cell.unexpected:
                print(f"    unexpected failure: {', '.join(cell.unexpected)}; log {os.path.relpath(cell.log, ROOT)}")
            if cell.xpass:
                print(f"    expected to fail but passed: {', '.join(cell.xpass)} "
                      "(a fix landed? update tests/interop/expected.toml)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", default=",".join(brokers.BROKERS))
    ap.add_argument("--checks", default=",".join(CHECKS))
    ap.add_argument("--expected", default=os.path.join(ROOT, "tests", "interop", "expected.toml"))
    ap.add_argument("--logs", default=os.path.join(ROOT, "build", "interop", "logs"))
    args = ap.parse_args()
    names = [n for n in args.brokers.split(",") if n]
    checks = [c for c in args.checks.split(",") if c]
    for n in names:
        if n not in brokers.BROKERS:
            ap.error(f"unknown broker {n}")
    for c in checks:
        if c not in CHECKS:
            ap.error(f"unknown check {c}")
    settings, expected = load_expected(args.expected)
    os.makedirs(args.logs, exist_ok=True)
    programs = {"ctest": [os.path.join(ROOT, "build", "test_c")],
                "demo": [os.path.join(ROOT, "build", "pubsub")]}

    cells = {}
    versions = {}
    started = time.monotonic()
    for name in names:
        probe = brokers.make(name, args.logs, sys.stderr)
        versions[name] = probe.version()
        env = dict(os.environ)
        env.pop("MQE_BROKER_USER", None)
        env.pop("MQE_BROKER_PASS", None)
        if probe.login:
            env.update(MQE_BROKER_USER="mqe-interop", MQE_BROKER_PASS=secrets.token_hex(8))
        missing = probe.missing()
        for check in checks:
            cell = Cell(name, check)
            cells[(name, check)] = cell
            t0 = time.monotonic()
            if missing:
                cell.note = missing
            elif check == "soak":
                run_soak(cell, name, settings.get(name, {}).get("soak_restart", False), env, args.logs)
            else:
                run_program(cell, name, programs[check], env, args.logs)
            judge(cell, expected)
            print(f"interop: {name} {check}: {cell.verdict} ({time.monotonic() - t0:.0f} s) {cell.note}",
                  flush=True)

    print(f"\ninterop: {len(names)} broker(s) x {len(checks)} check(s) in "
          f"{time.monotonic() - started:.0f} s\n")
    print_table(names, checks, cells, settings, versions)
    print_details(names, checks, cells, settings)
    bad = [c for c in cells.values() if c.verdict in ("FAIL", "XPASS")]
    print(f"\ninterop: {'FAIL' if bad else 'PASS'}: "
          f"{sum(c.verdict == 'pass' for c in cells.values())} pass, "
          f"{sum(c.verdict == 'xfail' for c in cells.values())} expected fail, "
          f"{sum(c.verdict == 'FAIL' for c in cells.values())} unexpected fail, "
          f"{sum(c.verdict == 'XPASS' for c in cells.values())} unexpected pass")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
