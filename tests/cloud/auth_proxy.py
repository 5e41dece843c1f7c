#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""An authenticating front for mosquitto, as a cloud with expiring credentials behaves.

    auth_proxy.py [--timeout S] -- COMMAND [ARGS...]

Listens on a free 127.0.0.1 port and runs COMMAND with MQE_BROKER_PORT set to it and
MQE_CRED_FILE to a file holding the one password currently valid. Each client's CONNECT is
read and checked: a password other than the file's gets CONNACK 4 (bad user name or
password) from the proxy itself and the socket is closed; a valid one is forwarded to the
mosquitto at MQE_BROKER_HOST:MQE_BROKER_PORT (scripts/with_broker.py) and the bytes are relayed
both ways. When the file changes, the connections authenticated with the old password are cut,
as a cloud drops a device whose token expired. Prints what it did; exits with COMMAND's status
(124 when --timeout expires; the command is stopped by its PID).
"""
import argparse
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"


def read_packet(sock):
    """One MQTT packet (bytes) from a blocking socket; None on EOF."""
    head = sock.recv(1)
    if not head:
        return None
    length, shift, raw = 0, 0, bytearray(head)
    while True:
        b = sock.recv(1)
        if not b:
            return None
        raw += b
        length |= (b[0] & 0x7F) << shift
        shift += 7
        if not b[0] & 0x80:
            break
    body = bytearray()
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return bytes(raw + body), bytes(body)


def connect_credentials(body):
    """(username, password) of a CONNECT body (MQTT 3.1.1), None for absent fields."""
    def field(at):
        n = int.from_bytes(body[at:at + 2], "big")
        return body[at + 2:at + 2 + n], at + 2 + n
    at = 2 + int.from_bytes(body[0:2], "big") + 1  # protocol name, level
    flags = body[at]
    at += 1 + 2  # flags, keep-alive
    _, at = field(at)  # client id
    if flags & 0x04:
        _, at = field(at)  # will topic
        _, at = field(at)  # will message
    user = pw = None
    if flags & 0x80:
        user, at = field(at)
    if flags & 0x40:
        pw, at = field(at)
    return user, pw


class Proxy:
    def __init__(self, upstream, cred_file):
        self.upstream = upstream
        self.cred_file = cred_file
        self.lock = threading.Lock()
        self.live = []  # (client socket, upstream socket, password)
        self.stats = {"refused": 0, "accepted": 0, "cut": 0}
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]

    def valid(self):
        with open(self.cred_file, "rb") as f:
            return f.read().strip()

    def serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(client,), daemon=True).start()

    def handle(self, client):
        client.settimeout(10)
        got = read_packet(client)
        if got is None or got[0][0] != 0x10:
            client.close()
            return
        raw, body = got
        user, pw = connect_credentials(body)
        valid = self.valid()
        if pw != valid:
            print(f"auth_proxy: CONNECT user={user!r} password={pw!r}: stale, CONNACK 4",
                  flush=True)
            self.stats["refused"] += 1
            client.sendall(bytes([0x20, 0x02, 0x00, 0x04]))
            client.close()
            return
        print(f"auth_proxy: CONNECT user={user!r} password={pw!r}: accepted", flush=True)
        self.stats["accepted"] += 1
        up = socket.create_connection(self.upstream, timeout=10)
        up.sendall(raw)
        client.settimeout(None)
        up.settimeout(None)
        with self.lock:
            self.live.append((client, up, pw))
        try:
            while True:
                ready, _, _ = select.select([client, up], [], [], 1.0)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (up if s is client else client).sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                self.live = [e for e in self.live if e[0] is not client]
            for s in (client, up):
                try:
                    s.close()
                except OSError:
                    pass

    def watch(self):
        """Cuts connections whose password is no longer the valid one."""
        while True:
            time.sleep(0.05)
            try:
                valid = self.valid()
            except OSError:
                continue
            with self.lock:
                stale = [e for e in self.live if e[2] != valid]
            for client, up, pw in stale:
                print(f"auth_proxy: password {pw!r} expired: connection cut", flush=True)
                self.stats["cut"] += 1
                for s in (client, up):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    upstream = (os.environ.get("MQE_BROKER_HOST", HOST), int(os.environ["MQE_BROKER_PORT"]))
    workdir = tempfile.mkdtemp(prefix="mqe-auth-")
    cred_file = os.path.join(workdir, "valid_password")
    with open(cred_file, "w") as f:
        f.write("")
    proxy = Proxy(upstream, cred_file)
    threading.Thread(target=proxy.serve, daemon=True).start()
    threading.Thread(target=proxy.watch, daemon=True).start()
    env = dict(os.environ, MQE_BROKER_HOST=HOST, MQE_BROKER_PORT=str(proxy.port),
               MQE_CRED_FILE=cred_file)
    child = subprocess.Popen(args.command, env=env)
    try:
        status = child.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        print(f"auth_proxy: {args.command[0]} timed out after {args.timeout} s", flush=True)
        child.kill()
        child.wait()
        status = 124
    proxy.listener.close()
    print(f"auth_proxy: {proxy.stats}", flush=True)
    # The test must have met each case: a refusal, an acceptance after it, a cut.
    if status == 0 and (proxy.stats["refused"] < 1 or proxy.stats["accepted"] < 2
                        or proxy.stats["cut"] < 1):
        print("auth_proxy: the run did not exercise refusal, renewal and expiry", flush=True)
        status = 1
    os.remove(cred_file)
    os.rmdir(workdir)
    sys.exit(status)


if __name__ == "__main__":
    main()
