#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that cuts connections at random points, mid-packet included.

    scripts/fault_proxy.py --upstream-port PORT [--listen-port PORT] [--seed N]
                           [--cut-bytes MIN:MAX] [--max-cuts N] [--timeout SECONDS]
                           [--port-file PATH] [--stats-file PATH] [--tap PATH]

Every accepted connection is joined to a new connection to the upstream broker. Each one gets
a byte budget drawn from MIN..MAX (counting both directions); the chunk that crosses it is
forwarded only up to the budget, then both sockets are reset (SO_LINGER 0), as a dropped
radio link would. After --max-cuts cuts the proxy only forwards. It stops by itself after
--timeout seconds, or on SIGTERM/SIGINT, and then writes {"cuts": N, "connections": N} to
--stats-file. When the upstream refuses (broker restarting) the client is closed at once.
--tap appends every forwarded chunk to PATH as a record: direction (b"c" client to broker,
b"s" broker to client), connection number and length (little-endian u32 each), the bytes
(tests/interop/tap_qos2.py reads it).
"""

import argparse
import json
import os
import random
import selectors
import signal
import socket
import struct
import sys
import time

HOST = "127.0.0.1"
CHUNK = 4096
UPSTREAM_CONNECT_S = 1.0
MAX_CONNECTIONS = 64  # the soak uses two clients; anything more is a leak


class Pair:
    def __init__(self, client, upstream, budget, number):
        self.client = client
        self.upstream = upstream
        self.budget = budget  # bytes still allowed through before the cut
        self.number = number  # 1, 2, ... in accept order (the tap's connection number)


def reset(sock):
    """Close with RST: no FIN, no graceful drain."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class Proxy:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        lo, _, hi = args.cut_bytes.partition(":")
        self.cut_min, self.cut_max = int(lo), int(hi or lo)
        self.sel = selectors.DefaultSelector()
        self.pairs = {}  # socket -> (pair, peer socket)
        self.cuts = 0
        self.connections = 0
        self.running = True
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, args.listen_port))
        self.listener.listen(16)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ)
        self.port = self.listener.getsockname()[1]
        self.tap = open(args.tap, "ab") if args.tap else None

    def budget(self):
        if self.cuts >= self.args.max_cuts:
            return None
        return self.rng.randint(self.cut_min, self.cut_max)

    def accept(self):
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        if len(self.pairs) >= 2 * MAX_CONNECTIONS:
            reset(client)
            return
        try:
            upstream = socket.create_connection((HOST, self.args.upstream_port), UPSTREAM_CONNECT_S)
        except OSError:
            reset(client)  # broker down: the client sees the connection fail and retries
            return
        self.connections += 1
        for s in (client, upstream):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = Pair(client, upstream, self.budget(), self.connections)
        self.pairs[client] = (pair, upstream)
        self.pairs[upstream] = (pair, client)
        self.sel.register(client, selectors.EVENT_READ)
        self.sel.register(upstream, selectors.EVENT_READ)

    def close_pair(self, pair, cut):
        for s in (pair.client, pair.upstream):
            if s in self.pairs:
                del self.pairs[s]
                try:
                    self.sel.unregister(s)
                except (KeyError, ValueError):
                    pass
            if cut:
                reset(s)
            else:
                s.close()
        if cut:
            self.cuts += 1

    def forward(self, src):
        pair, dst = self.pairs[src]
        try:
            data = src.recv(CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close_pair(pair, cut=False)
            return
        cut = False
        if pair.budget is not None:
            if len(data) >= pair.budget:
                data = data[: pair.budget]  # the rest never arrives: mid-packet
                cut = True
            pair.budget -= len(data)
        if self.tap is not None:
            direction = b"c" if src is pair.client else b"s"
            self.tap.write(direction + struct.pack("<II", pair.number, len(data)) + data)
        try:
            # Small local writes; a full socket buffer is treated as a drop, which it is.
            dst.setblocking(True)
            dst.settimeout(1.0)
            dst.sendall(data)
            dst.setblocking(False)
        except OSError:
            cut = True
        if cut:
            self.close_pair(pair, cut=True)

    def run(self):
        deadline = time.monotonic() + self.args.timeout
        while self.running:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in self.sel.select(timeout=min(left, 0.5)):
                if key.fileobj is self.listener:
                    self.accept()
                elif key.fileobj in self.pairs:
                    self.forward(key.fileobj)
        for pair, _ in list(self.pairs.values()):
            self.close_pair(pair, cut=False)
        self.listener.close()
        if self.tap is not None:
            self.tap.close()

    def stop(self, *_):
        self.running = False


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream-port", type=int, required=True)
    p.add_argument("--listen-port", type=int, default=0, help="0: pick a free port")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--cut-bytes", default="1:8000", help="MIN:MAX byte budget per connection")
    p.add_argument("--max-cuts", type=int, default=100000)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--port-file", help="write the listening port here once ready")
    p.add_argument("--stats-file", help="write the JSON stats here on exit")
    p.add_argument("--tap", help="append every forwarded chunk here (see above)")
    args = p.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    proxy = Proxy(args)
    signal.signal(signal.SIGTERM, proxy.stop)
    signal.signal(signal.SIGINT, proxy.stop)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(proxy.port))
        os.replace(args.port_file + ".tmp", args.port_file)
    sys.stderr.write(f"fault_proxy: 127.0.0.1:{proxy.port} -> {args.upstream_port}, seed {args.seed}\n")
    proxy.run()
    stats = {"cuts": proxy.cuts, "connections": proxy.connections, "seed": args.seed}
    if args.stats_file:
        with open(args.stats_file, "w") as f:
            json.dump(stats, f)
    sys.stderr.write(f"fault_proxy: {json.dumps(stats)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
