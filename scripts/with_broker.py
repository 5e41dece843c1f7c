#!/usr/bin/env python3
"""Run a command against a private, throwaway mosquitto broker on 127.0.0.1.

    scripts/with_broker.py [--timeout SECONDS] -- COMMAND [ARGS...]

Picks a free port, writes a temporary mosquitto.conf, starts the broker, waits until
it accepts connections, runs COMMAND with MQE_BROKER_HOST and MQE_BROKER_PORT set,
stops the broker by its PID and exits with COMMAND's status. The whole run is bounded
by --timeout (exit 124 when it expires). The broker log is printed when anything fails.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
BROKER_START_S = 5.0
STOP_GRACE_S = 3.0
LOG_TAIL_LINES = 300  # enough to see what went wrong, not a wall of text
START_ATTEMPTS = 3  # a port picked as free can be taken before mosquitto binds it
TIMEOUT_STATUS = 124


def find_mosquitto():
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def write_conf(workdir, port):
    path = os.path.join(workdir, "mosquitto.conf")
    with open(path, "w") as f:
        f.write(
            f"listener {port} {HOST}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            # 0 = no limit: a test that queues messages for an offline client must not
            # see the broker drop any of them.
            "max_queued_messages 0\n"
            # stderr goes to a file this script owns, so it works even when mosquitto,
            # started as root, drops to the 'mosquitto' user.
            "log_dest stderr\n"
            "log_type all\n"
            "connection_messages true\n"
            "log_timestamp true\n"
        )
    return path


def port_accepts(port):
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def stop(proc, grace_s=STOP_GRACE_S):
    """Terminate by PID, wait bounded, then kill."""
    if proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace_s)
    except ProcessLookupError:
        pass


def stop_group(proc, grace_s=STOP_GRACE_S):
    """Stop a command started in its own session, with everything it started."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue


def start_broker(mosquitto, workdir, log_file, deadline):
    """Returns (process, port) once the broker accepts connections, or (None, None)."""
    for _ in range(START_ATTEMPTS):
        port = free_port()
        conf = write_conf(workdir, port)
        proc = subprocess.Popen(
            [mosquitto, "-c", conf],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            cwd=workdir,
        )
        ready_by = min(deadline, time.monotonic() + BROKER_START_S)
        while time.monotonic() < ready_by and proc.poll() is None:
            if port_accepts(port):
                return proc, port
            time.sleep(0.05)
        stop(proc)
    return None, None


def print_log(path):
    try:
        with open(path, errors="replace") as f:
            lines = f.readlines()
    except OSError as e:
        lines = [f"(cannot read broker log: {e})\n"]
    if len(lines) > LOG_TAIL_LINES:
        skipped = len(lines) - LOG_TAIL_LINES
        lines = [f"({skipped} earlier lines skipped)\n"] + lines[-LOG_TAIL_LINES:]
    text = "".join(lines)
    sys.stderr.write("----- mosquitto log -----\n" + text + "----- end of mosquitto log -----\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="bound for the whole run, in seconds (default 300)")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="command to run (after --)")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")

    deadline = time.monotonic() + args.timeout
    mosquitto = find_mosquitto()
    if mosquitto is None:
        sys.stderr.write("with_broker: mosquitto not found in PATH or /usr/sbin; run `make deps`\n")
        return 127

    with tempfile.TemporaryDirectory(prefix="mqe-broker-") as workdir:
        # The broker may run as another user after dropping root; let it enter the dir.
        os.chmod(workdir, 0o755)
        log_path = os.path.join(workdir, "mosquitto.log")
        with open(log_path, "w") as log_file:
            broker, port = start_broker(mosquitto, workdir, log_file, deadline)
            if broker is None:
                sys.stderr.write("with_broker: mosquitto did not start\n")
                print_log(log_path)
                return 1
            env = dict(os.environ, MQE_BROKER_HOST=HOST, MQE_BROKER_PORT=str(port))
            status = 1
            try:
                cmd = subprocess.Popen(command, env=env, start_new_session=True)
                try:
                    status = cmd.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    sys.stderr.write(f"with_broker: timed out after {args.timeout:g} s: {command}\n")
                    stop_group(cmd)
                    status = TIMEOUT_STATUS
                except KeyboardInterrupt:
                    stop_group(cmd)
                    status = 130
            except OSError as e:
                sys.stderr.write(f"with_broker: cannot run {command[0]}: {e}\n")
                status = 127
            finally:
                broker_died = broker.poll() is not None
                stop(broker)
            if broker_died:
                sys.stderr.write("with_broker: mosquitto exited while the command ran\n")
                status = status or 1
            if status != 0:
                log_file.flush()
                print_log(log_path)
            return status


if __name__ == "__main__":
    sys.exit(main())
