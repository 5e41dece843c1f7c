#!/usr/bin/env python3
"""The brokers of `make interop`: how to start each one privately on 127.0.0.1.

Each launcher writes its own configuration into a work directory of ours (every listener
bound to 127.0.0.1, no other port opened), starts the broker as a child process and stops
it by its PID. Installs live under build/interop/ (`make interop-deps`); mosquitto and
ejabberd come from Debian.

    broker = brokers.make("aedes", workdir, log_file)
    if broker.start(port): ...; broker.restart(); broker.stop()

Login: with MQE_BROKER_USER / MQE_BROKER_PASS in the environment, the brokers that can check
a password (aedes, rumqttd, amqtt) require exactly that login; ejabberd needs a user name and
accepts any (anonymous login); mosquitto runs anonymous.
"""

import glob
import os
import shutil
import signal
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INTEROP_BUILD = os.path.join(ROOT, "build", "interop")
HOST = "127.0.0.1"
STOP_GRACE_S = 5.0


def port_accepts(port):
    import socket

    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


class Broker:
    """One broker process on one port; subclasses say how to configure and run it."""

    name = "?"
    # Sessions survive a restart of the broker (the soak's restart step needs it).
    persistent = False
    # Seconds to wait for the listener after the start (ejabberd boots an Erlang node).
    start_wait_s = 10.0
    # `make interop` runs it with MQE_BROKER_USER / MQE_BROKER_PASS set (see the top).
    login = False

    def __init__(self, workdir, log_file, persistence=False, env=None):
        self.workdir = workdir
        self.log_file = log_file
        self.persistence = persistence
        self.base_env = dict(os.environ if env is None else env)
        self.proc = None
        self.port = None
        self.user = self.base_env.get("MQE_BROKER_USER")
        self.password = self.base_env.get("MQE_BROKER_PASS", "")

    def missing(self):
        """Why the broker cannot run here (not installed), or None."""
        return None

    def version(self):
        """The installed version, for the table."""
        return "?"

    def _output(self, cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"

    def command(self, port):
        raise NotImplementedError

    def env(self):
        return dict(self.base_env)

    def start(self, port):
        """Starts on port and waits until it accepts connections; False if it did not."""
        self.port = port
        cmd = self.command(port)
        self.log_file.write(f"== {self.name}: {' '.join(cmd)}\n")
        self.log_file.flush()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=self.log_file, cwd=self.workdir, env=self.env(),
                                     start_new_session=True)
        ready_by = time.monotonic() + self.start_wait_s
        while time.monotonic() < ready_by and self.proc.poll() is None:
            if port_accepts(port):
                return True
            time.sleep(0.1)
        self.stop()
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM to our process, then SIGKILL to its process group (ours) if it lingers."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=STOP_GRACE_S)
        except ProcessLookupError:
            pass

    def restart(self):
        self.stop()
        time.sleep(0.5)
        return self.start(self.port)


def _which(name, *candidates):
    found = shutil.which(name)
    if found:
        return found
    return next((c for c in candidates if os.access(c, os.X_OK)), None)


class Mosquitto(Broker):
    name = "mosquitto"
    persistent = True
    start_wait_s = 5.0

    def missing(self):
        return None if self._bin() else "mosquitto not installed (make deps)"

    def version(self):
        return self._output(["dpkg-query", "-W", "-f", "${Version}", "mosquitto"]) or "?"

    def _bin(self):
        return _which("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")

    def command(self, port):
        conf = os.path.join(self.workdir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} {HOST}\nallow_anonymous true\n"
                    # 0 = no limit: a test that queues for an offline client loses nothing.
                    "max_queued_messages 0\n"
                    "log_dest stderr\nlog_type error\nlog_type warning\nlog_timestamp true\n")
            if self.persistence:
                # The soak's settings (scripts/soak.py): state saved on stop, 20 in flight.
                f.write(f"persistence true\npersistence_location {self.workdir}/\n"
                        "autosave_interval 0\nmax_inflight_messages 20\n")
            else:
                f.write("persistence false\n")
        # mosquitto started as root drops to its own user: let it write here.
        os.chmod(self.workdir, 0o777)
        return [self._bin(), "-c", conf]


class Aedes(Broker):
    """tests/interop/aedes/server.mjs on the pinned aedes (npm ci into build/interop/aedes)."""

    name = "aedes"
    login = True
    start_wait_s = 10.0
    DIR = os.path.join(INTEROP_BUILD, "aedes")

    def missing(self):
        if not shutil.which("node"):
            return "node not installed"
        if not os.path.isdir(os.path.join(self.DIR, "node_modules", "aedes")):
            return "aedes not installed (make interop-deps)"
        return None

    def version(self):
        import json

        try:
            with open(os.path.join(self.DIR, "node_modules", "aedes", "package.json")) as f:
                return json.load(f)["version"]
        except (OSError, ValueError, KeyError):
            return "?"

    def start(self, port):
        # Node resolves 'aedes' next to the script: run a copy placed beside node_modules.
        src = os.path.join(ROOT, "tests", "interop", "aedes", "server.mjs")
        shutil.copyfile(src, os.path.join(self.DIR, "server.mjs"))
        return super().start(port)

    def command(self, port):
        return ["node", os.path.join(self.DIR, "server.mjs"), str(port)]


class Rumqttd(Broker):
    """rumqttd from crates.io (cargo install --root build/interop/rumqttd)."""

    name = "rumqttd"
    login = True
    start_wait_s = 10.0
    BIN = os.path.join(INTEROP_BUILD, "rumqttd", "bin", "rumqttd")

    def missing(self):
        return None if os.access(self.BIN, os.X_OK) else "rumqttd not installed (make interop-deps)"

    def version(self):
        return self._output([self.BIN, "--version"]).replace("rumqttd ", "") or "?"

    def command(self, port):
        # Only an MQTT 3.1.1 listener: no v5, websocket, console or prometheus listener (the
        # built-in default config opens those on 0.0.0.0).
        conf = os.path.join(self.workdir, "rumqttd.toml")
        auth = ""
        if self.user is not None:
            auth = f'auth = {{ "{self.user}" = "{self.password}" }}\n'
        with open(conf, "w") as f:
            f.write("id = 0\n\n[router]\nid = 0\nmax_connections = 100\n"
                    "max_outgoing_packet_count = 200\nmax_segment_size = 104857600\n"
                    "max_segment_count = 10\n\n"
                    f'[v4.1]\nname = "v4-1"\nlisten = "{HOST}:{port}"\n'
                    "next_connection_delay_ms = 1\n"
                    "[v4.1.connections]\nconnection_timeout_ms = 60000\n"
                    "max_payload_size = 20480\nmax_inflight_count = 100\n"
                    "dynamic_filters = true\n" + auth)
        return [self.BIN, "-q", "-c", conf]


class Amqtt(Broker):
    """amqtt from PyPI, in a venv under build/interop/amqtt."""

    name = "amqtt"
    login = True
    start_wait_s = 15.0
    BIN = os.path.join(INTEROP_BUILD, "amqtt", "venv", "bin", "amqtt")

    def missing(self):
        return None if os.access(self.BIN, os.X_OK) else "amqtt not installed (make interop-deps)"

    def version(self):
        return self._output([self.BIN, "--version"]) or "?"

    def command(self, port):
        # The default config minus its 0.0.0.0 listener and its $SYS publisher. With a login,
        # its password file (argon2, made with amqtt's own hasher): amqtt keeps no session for
        # an anonymous client (it neither queues for it offline nor resumes it).
        conf = os.path.join(self.workdir, "amqtt.yaml")
        auth = "  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n"
        if self.user is not None:
            passwd = os.path.join(self.workdir, "amqtt.passwd")
            python = os.path.join(os.path.dirname(self.BIN), "python")
            hashed = subprocess.run(
                [python, "-c", "import sys; from pwdlib.hashers.argon2 import Argon2Hasher; "
                 "print(Argon2Hasher().hash(sys.argv[1]))", self.password],
                capture_output=True, text=True, timeout=60, check=True).stdout.strip()
            with open(passwd, "w") as f:
                f.write(f"{self.user}:{hashed}\n")
            auth = f"  amqtt.plugins.authentication.FileAuthPlugin:\n    password_file: {passwd}\n"
        with open(conf, "w") as f:
            f.write("listeners:\n  default:\n    type: tcp\n"
                    f"    bind: {HOST}:{port}\nplugins:\n" + auth)
        return [self.BIN, "-c", conf]


class Ejabberd(Broker):
    """Debian's ejabberd, only its MQTT listener (mod_mqtt), as a plain Erlang node without
    distribution (no epmd, no node name), its Mnesia spool in our work directory."""

    name = "ejabberd"
    login = True
    start_wait_s = 40.0
    ERL = "/usr/bin/erl"
    LIBS = "/usr/lib/x86_64-linux-gnu"

    def missing(self):
        if not os.access(self.ERL, os.X_OK) or not glob.glob(os.path.join(self.LIBS, "ejabberd-*")):
            return "ejabberd not installed (make interop-deps)"
        return None

    def version(self):
        return self._output(["dpkg-query", "-W", "-f", "${Version}", "ejabberd"]) or "?"

    def command(self, port):
        conf = os.path.join(self.workdir, "ejabberd.yml")
        spool = os.path.join(self.workdir, "spool")
        os.makedirs(spool, exist_ok=True)
        with open(conf, "w") as f:
            # Anonymous login: any user name and password are accepted (a user name is
            # needed: mod_mqtt refuses a CONNECT without one).
            f.write("hosts:\n  - localhost\nloglevel: warning\n"
                    "auth_method: [anonymous]\nanonymous_protocol: login_anon\n"
                    "allow_multiple_connections: true\n"
                    f"listen:\n  -\n    port: {port}\n    ip: \"{HOST}\"\n"
                    "    module: mod_mqtt\n    backlog: 1000\n"
                    "modules:\n  mod_mqtt: {}\n")
        return [self.ERL, "-noinput", "-noshell", "+K", "true", "-mnesia", "dir", f'"{spool}"',
                "-s", "ejabberd"]

    def env(self):
        logs = os.path.join(self.workdir, "logs")
        os.makedirs(logs, exist_ok=True)
        return dict(self.base_env, EJABBERD_CONFIG_PATH=os.path.join(self.workdir, "ejabberd.yml"),
                    EJABBERD_LOG_PATH=os.path.join(logs, "ejabberd.log"),
                    ERL_CRASH_DUMP=os.path.join(logs, "erl_crash.dump"),
                    ERL_LIBS=self.LIBS, ERL_INETRC="/etc/ejabberd/inetrc", HOME=self.workdir)


BROKERS = {cls.name: cls for cls in (Mosquitto, Aedes, Rumqttd, Amqtt, Ejabberd)}


def make(name, workdir, log_file, persistence=False, env=None):
    """A launcher; env (default: ours) gives the login and is the broker's environment."""
    try:
        return BROKERS[name](workdir, log_file, persistence=persistence, env=env)
    except KeyError:
        raise SystemExit(f"unknown broker {name!r}; known: {', '.join(BROKERS)}") from None
