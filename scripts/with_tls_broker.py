#!/usr/bin/env python3
"""Run a command against a private mosquitto with a TLS listener on 127.0.0.1.

    scripts/with_tls_broker.py [--timeout SECONDS] -- COMMAND [ARGS...]

Generates, with openssl, a throwaway CA, a server certificate it signs for the host name
mqe-broker.test (CN and subjectAltName), and a second CA that signed nothing. Runs COMMAND
with MQE_BROKER_HOST, MQE_BROKER_PORT (the TLS port), MQE_TLS_SERVER_NAME, MQE_TLS_CA and
MQE_TLS_WRONG_CA set. Everything else (free port, bounded run, stop by PID, log on failure)
is scripts/with_broker.py's.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import with_broker  # noqa: E402

SERVER_NAME = "mqe-broker.test"
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(workdir, *args):
    subprocess.run(["openssl", *args], cwd=workdir, check=True, timeout=30,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_ca(workdir, name):
    openssl(workdir, "req", "-x509", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.crt",
            "-days", "2", "-subj", f"/CN=mqtt-engine test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def make_certificates(workdir):
    make_ca(workdir, "ca")
    make_ca(workdir, "wrong-ca")
    openssl(workdir, "req", "-new", *EC_KEY, "-keyout", "server.key", "-out", "server.csr",
            "-subj", f"/CN={SERVER_NAME}")
    with open(os.path.join(workdir, "server.ext"), "w") as f:
        f.write(f"subjectAltName=DNS:{SERVER_NAME}\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n")
    openssl(workdir, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
    # mosquitto started as root drops to its own user before reading them: throwaway keys.
    for name in os.listdir(workdir):
        os.chmod(os.path.join(workdir, name), 0o644)


def write_tls_conf(workdir, port):
    make_certificates(workdir)
    path = os.path.join(workdir, "mosquitto.conf")
    with open(path, "w") as f:
        f.write(
            f"listener {port} {with_broker.HOST}\n"
            f"cafile {workdir}/ca.crt\n"
            f"certfile {workdir}/server.crt\n"
            f"keyfile {workdir}/server.key\n"
            "require_certificate false\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "log_dest stderr\n"
            "log_type all\n"
            "connection_messages true\n"
            "log_timestamp true\n"
        )
    os.environ.update(
        MQE_TLS_SERVER_NAME=SERVER_NAME,
        MQE_TLS_CA=os.path.join(workdir, "ca.crt"),
        MQE_TLS_WRONG_CA=os.path.join(workdir, "wrong-ca.crt"),
    )
    return path


if __name__ == "__main__":
    with_broker.write_conf = write_tls_conf
    sys.exit(with_broker.main())
