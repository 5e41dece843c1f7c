#!/usr/bin/env python3
"""A cellular link for the tests: a TCP relay between the client and mosquitto that adds
cellular round trips, a narrow pipe, silent drops and link down/up, and a scenario run
through it.

    scripts/cell_link.py [--rtt-ms MIN MAX] [--kbps N] [--keep-alive S --nat-timeout S]
                         [--timeout S] [--no-netns] -- CLIENT

The kernel here has no netem, so the link is a relay in user space. As root, the test runs
in two network namespaces it creates (mqe-cd-PID for the client, mqe-cn-PID for the relay and
mosquitto), joined by a veth pair with TEST-NET-1 addresses (192.0.2.0/24, RFC 5737) that
exist inside those namespaces only; without root (or with --no-netns) everything is on
127.0.0.1. Each direction of each connection is a delay line: a chunk leaves after its
serialisation time at --kbps, queued behind the chunks before it, plus a one-way delay drawn
from [MIN/2, MAX/2] ms, never overtaking. A silent drop stops forwarding without FIN or RST
(what a NAT that forgot the connection does): the relay keeps reading, and discards, what
either side sends, so the byte counts stay exact. Link down drops every connection likewise
and counts any connection attempt made while down.

The scenario (CLIENT is tests/cell/cell_client.c, driven through its stdin) shows:
  1. a silent drop is detected within 1.5 x keep-alive (the keep-alive clamped by the NAT
     timeout: mqe_options_t.nat_timeout_s);
  2. no connect attempt reaches the link while it is down (mqe_link_down);
  3. the client is connected again within 1 s + RTT of mqe_link_up;
  4. every message mqe_publish accepted comes back through the subscription;
  5. the bytes mqe_stats counts are the bytes the relay moved, both ways.
Every process is stopped by its PID and the namespaces are deleted, also on failure.
Exit status 0 when all hold, 1 when not, 124 on timeout.
"""

import argparse
import os
import queue
import random
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import with_broker  # noqa: E402  (reuses its mosquitto start/stop)

NET_ADDR = "192.0.2.1"  # the relay, in the network's namespace
DEV_ADDR = "192.0.2.2"  # the client, in the device's namespace
RELAY_PORT = 1883
TICK_S = 0.01
READ_BYTES = 4096
# Poll granularity of the client (10 ms) and pipe latency: the slack a deadline may take.
SLACK_S = 0.25


class Pipe:
    """One direction of one connection: a delay line with a bandwidth limit."""

    def __init__(self, link):
        self.link = link
        self.chunks = deque()  # (release time, bytes or None for the sender's FIN)
        self.free_at = 0.0
        self.last_release = 0.0
        self.unsent = b""

    def push(self, data, now):
        start = max(now, self.free_at)
        self.free_at = start + (len(data) * 8 / self.link.bps if data else 0.0)
        delay = random.uniform(self.link.rtt_min, self.link.rtt_max) / 2
        release = max(self.free_at + delay, self.last_release)
        self.last_release = release
        self.chunks.append((release, data))

    def due(self, now):
        return bool(self.chunks) and self.chunks[0][0] <= now

    def next_release(self):
        return self.chunks[0][0] if self.chunks else None


class Conn:
    def __init__(self, link, client, broker):
        self.client, self.broker = client, broker
        self.up, self.down = Pipe(link), Pipe(link)  # client -> broker, broker -> client
        self.silent = False
        self.client_open = self.broker_open = True


class Relay(threading.Thread):
    """The link: accepts on `listen`, forwards to `upstream`. Control methods are thread-safe."""

    def __init__(self, listen, upstream, rtt_ms, kbps):
        super().__init__(daemon=True)
        self.rtt_min, self.rtt_max = rtt_ms[0] / 1000, rtt_ms[1] / 1000
        self.bps = kbps * 1000
        self.upstream = upstream
        self.lock = threading.Lock()
        self.stop_flag = False
        self.link_down = False
        self.drop_now = False
        self.accepts = 0
        self.accepts_while_down = 0
        self.client_to_broker = 0  # bytes read from the client, forwarded or dropped
        self.broker_to_client = 0  # bytes written to the client
        self.conns = []
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(listen)
        self.server.listen(16)
        self.server.setblocking(False)
        self.address = self.server.getsockname()

    # --- control (from the scenario's thread) ---
    def silent_drop(self):
        with self.lock:
            self.drop_now = True

    def set_down(self, down):
        with self.lock:
            self.link_down = down
            if down:
                self.drop_now = True

    def open_conns(self):
        with self.lock:
            return sum(1 for c in self.conns if c.client_open)

    def counts(self):
        with self.lock:
            return self.client_to_broker, self.broker_to_client, self.accepts

    def stop(self):
        with self.lock:
            self.stop_flag = True
        self.join(timeout=5)

    # --- the loop ---
    def run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.server, selectors.EVENT_READ, None)
        try:
            while True:
                with self.lock:
                    if self.stop_flag:
                        break
                    if self.drop_now:
                        self.drop_now = False
                        for c in self.conns:
                            c.silent = True
                            c.up.chunks.clear()
                            c.down.chunks.clear()
                            c.down.unsent = c.up.unsent = b""
                timeout = TICK_S
                for key, _ in sel.select(timeout):
                    if key.data is None:
                        self.accept(sel)
                    else:
                        self.readable(sel, *key.data)
                self.flush(sel, time.monotonic())
        finally:
            for c in self.conns:
                for s in (c.client, c.broker):
                    try:
                        sel.unregister(s)
                    except (KeyError, ValueError):
                        pass
                    s.close()
            sel.close()
            self.server.close()

    def accept(self, sel):
        try:
            client, _ = self.server.accept()
        except BlockingIOError:
            return
        broker = socket.create_connection(self.upstream, timeout=5)
        for s in (client, broker):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Conn(self, client, broker)
        with self.lock:
            self.accepts += 1
            if self.link_down:
                self.accepts_while_down += 1
                conn.silent = True
            self.conns.append(conn)
        sel.register(client, selectors.EVENT_READ, (conn, True))
        sel.register(broker, selectors.EVENT_READ, (conn, False))

    def readable(self, sel, conn, from_client):
        sock = conn.client if from_client else conn.broker
        try:
            data = sock.recv(READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        now = time.monotonic()
        with self.lock:
            if from_client:
                self.client_to_broker += len(data)
            if data and not conn.silent:
                (conn.up if from_client else conn.down).push(data, now)
                return
            if data:
                return  # silent: swallowed by the link
            # End of stream from this side.
            sel.unregister(sock)
            if from_client:
                conn.client_open = False
            else:
                conn.broker_open = False
            if conn.silent:
                # A dead link carries no FIN: the other side hears nothing. The relay lets go
                # of the client's side only once the client itself closes.
                sock.close()
                if from_client and conn.broker_open:
                    sel.unregister(conn.broker)
                    conn.broker.close()
                    conn.broker_open = False
            else:
                (conn.up if from_client else conn.down).push(None, now)

    def flush(self, sel, now):
        with self.lock:
            for conn in list(self.conns):
                if not conn.client_open and not conn.broker_open:
                    conn.client.close()
                    conn.broker.close()
                    self.conns.remove(conn)
                    continue
                if conn.silent:
                    continue
                for pipe, dest, to_client in ((conn.up, conn.broker, False),
                                              (conn.down, conn.client, True)):
                    while pipe.due(now) or pipe.unsent:
                        if not pipe.unsent:
                            _, data = pipe.chunks.popleft()
                            if data is None:  # the sender's FIN, after its data
                                try:
                                    dest.shutdown(socket.SHUT_WR)
                                except OSError:
                                    pass
                                continue
                            pipe.unsent = data
                        try:
                            n = dest.send(pipe.unsent)
                        except BlockingIOError:
                            break
                        except OSError:
                            pipe.unsent = b""
                            pipe.chunks.clear()
                            break
                        if to_client:
                            self.broker_to_client += n
                        pipe.unsent = pipe.unsent[n:]


class Client:
    """The C client, its stdout read on a thread into timestamped lines."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.accepted, self.got = set(), set()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line.strip()))
        self.lines.put((time.monotonic(), None))

    def send(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix, timeout_s):
        """The time of the first line starting with `prefix`, and the line; fails on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                at, line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise Failure(f"no '{prefix}' from the client within {timeout_s:g} s")
            if line is None:
                raise Failure(f"the client exited (status {self.proc.wait()}) before '{prefix}'")
            self.note(line)
            if line.startswith(prefix):
                return at, line

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                _, line = self.lines.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                return
            if line is None:
                return
            self.note(line)

    def note(self, line):
        words = line.split()
        if words[:1] == ["ACCEPTED"]:
            self.accepted.add(int(words[1]))
        elif words[:1] == ["GOT"]:
            self.got.add(int(words[1]))
        if os.environ.get("MQE_CELL_VERBOSE"):
            print(f"  client: {line}", flush=True)

    def stop(self):
        with_broker.stop(self.proc)


class Failure(Exception):
    pass


def check(ok, what, results):
    results.append((ok, what))
    print(f"cell_link: {'ok  ' if ok else 'FAIL'} {what}", flush=True)


def scenario(relay, client, args, results):
    rtt_max = args.rtt_ms[1] / 1000
    keep_alive = args.keep_alive
    if args.nat_timeout:
        clamped = max(1, (2 * args.nat_timeout - 1) // 3)
        keep_alive = clamped if keep_alive == 0 else min(keep_alive, clamped)
    client.expect("EVENT CONNECTED", 20)
    client.drain(3)

    # 1. A silent drop (a NAT forgetting the connection): detected by the keep-alive.
    dropped_at = time.monotonic()
    relay.silent_drop()
    at, line = client.expect("EVENT DISCONNECTED", 1.5 * keep_alive + 10)
    took = at - dropped_at
    check(line.split()[-1] == "-44" and took <= 1.5 * keep_alive + SLACK_S,
          f"silent drop detected in {took:.2f} s (keep-alive {keep_alive} s after the NAT "
          f"clamp, bound {1.5 * keep_alive:g} s; {line})", results)
    client.expect("EVENT CONNECTED", 20)
    client.drain(2)

    # 2. Link down: the relay goes dark first, then the modem tells the client.
    client.send("quiet")
    client.drain(2 * rtt_max + 1)
    relay.set_down(True)
    client.drain(0.3)
    client.send("down")
    client.expect("EVENT LINK_DOWN", 5)
    _, line = client.expect("EVENT DISCONNECTED", 5)
    check(line.split()[-1] == "-47", f"link down ends the connection ({line})", results)
    client.send("talk")
    accepts_before = relay.counts()[2]
    client.drain(args.down_s)
    accepts_after = relay.counts()[2]
    check(accepts_after == accepts_before and relay.accepts_while_down == 0,
          f"no connect attempt in {args.down_s:g} s of link down "
          f"({accepts_after - accepts_before} reached the link)", results)

    # 3. Link up: connected again within 1 s + RTT.
    relay.set_down(False)
    up_at = time.monotonic()
    client.send("up")
    at, _ = client.expect("EVENT CONNECTED", 10)
    took = at - up_at
    check(took <= 1.0 + rtt_max, f"connected {took:.2f} s after link-up "
          f"(bound 1 s + RTT {rtt_max:g} s)", results)
    client.drain(3)

    # 4. Every accepted message comes back.
    client.send("quiet")
    deadline = time.monotonic() + 30
    while client.accepted - client.got and time.monotonic() < deadline:
        client.drain(0.5)
    lost = sorted(client.accepted - client.got)
    check(not lost and len(client.accepted) >= 10,
          f"{len(client.accepted)} messages accepted, all came back (missing: {lost[:10]})",
          results)

    # 5. The client's byte counts are the link's.
    client.send("finish")
    _, stats = client.expect("STATS", 20)
    client.expect("DONE", 5)
    for _ in range(200):
        if relay.open_conns() == 0:
            break
        time.sleep(TICK_S)
    fields = dict(w.split("=") for w in stats.split()[1:])
    up, down, accepts = relay.counts()
    check(int(fields["sent"]) == up and int(fields["received"]) == down,
          f"mqe_stats bytes sent {fields['sent']} / received {fields['received']}, the link "
          f"carried {up} / {down} ({accepts} connections; {stats})", results)


def run_inner(args):
    """Inside the network's namespace (or on 127.0.0.1): broker, relay, client, scenario."""
    mosquitto = with_broker.find_mosquitto()
    if mosquitto is None:
        print("cell_link: mosquitto not found; run `make deps`", file=sys.stderr)
        return 127
    results = []
    deadline = time.monotonic() + args.timeout
    with tempfile.TemporaryDirectory(prefix="mqe-cell-") as workdir:
        os.chmod(workdir, 0o755)
        log_path = os.path.join(workdir, "mosquitto.log")
        with open(log_path, "w") as log_file:
            broker, port = with_broker.start_broker(mosquitto, workdir, log_file, deadline)
            if broker is None:
                with_broker.print_log(log_path)
                return 1
            relay = client = None
            try:
                listen = (args.listen, RELAY_PORT if args.client_ns else 0)
                relay = Relay(listen, (with_broker.HOST, port), args.rtt_ms, args.kbps)
                relay.start()
                env = dict(os.environ, MQE_BROKER_HOST=relay.address[0],
                           MQE_BROKER_PORT=str(relay.address[1]),
                           MQE_CELL_KEEP_ALIVE=str(args.keep_alive),
                           MQE_CELL_NAT_TIMEOUT=str(args.nat_timeout))
                argv = args.client
                if args.client_ns:
                    argv = ["ip", "netns", "exec", args.client_ns] + argv
                client = Client(argv, env)
                scenario(relay, client, args, results)
                status = client.proc.wait(timeout=10)
                check(status == 0, f"the client exited with {status}", results)
            except Failure as e:
                check(False, str(e), results)
            finally:
                if client is not None:
                    client.stop()
                if relay is not None:
                    relay.stop()
                with_broker.stop(broker)
            if not all(ok for ok, _ in results):
                log_file.flush()
                with_broker.print_log(log_path)
                return 1
    print(f"cell_link: PASS ({len(results)} checks, RTT {args.rtt_ms[0]}-{args.rtt_ms[1]} ms, "
          f"{args.kbps} kbit/s)")
    return 0


def sh(*argv):
    subprocess.run(argv, check=True, timeout=10)


def netns_usable():
    if os.geteuid() != 0:
        return False
    probe = f"mqe-cp-{os.getpid()}"
    try:
        sh("ip", "netns", "add", probe)
        sh("ip", "netns", "del", probe)
        return True
    except (OSError, subprocess.SubprocessError):
        return False


def run_in_namespaces(args, argv):
    """Creates the two namespaces and their veth link, runs the inner part in the network's,
    and deletes them whatever happens."""
    dev, net = f"mqe-cd-{os.getpid()}", f"mqe-cn-{os.getpid()}"
    veth_dev, veth_net = f"mqe{os.getpid() % 100000}d", f"mqe{os.getpid() % 100000}n"
    created = []
    inner = None
    try:
        for ns in (dev, net):
            sh("ip", "netns", "add", ns)
            created.append(ns)
        sh("ip", "link", "add", veth_dev, "netns", dev, "type", "veth", "peer", "name",
           veth_net, "netns", net)
        for ns, veth, addr in ((dev, veth_dev, DEV_ADDR), (net, veth_net, NET_ADDR)):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", veth)
            sh("ip", "-n", ns, "link", "set", veth, "up")
        inner = subprocess.Popen(["ip", "netns", "exec", net, sys.executable,
                                  os.path.abspath(__file__), "--inner", "--listen", NET_ADDR,
                                  "--client-ns", dev] + argv, start_new_session=True)
        try:
            return inner.wait(timeout=args.timeout + 30)
        except subprocess.TimeoutExpired:
            print(f"cell_link: timed out after {args.timeout:g} s", file=sys.stderr)
            with_broker.stop_group(inner)
            return 124
    finally:
        if inner is not None and inner.poll() is None:
            with_broker.stop_group(inner)
        for ns in created:  # deleting a namespace deletes its end of the veth pair too
            subprocess.run(["ip", "netns", "del", ns], timeout=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=int, nargs=2, default=[600, 1000],
                        metavar=("MIN", "MAX"), help="round trip range (default 600 1000)")
    parser.add_argument("--kbps", type=float, default=32, help="bandwidth each way (default 32)")
    parser.add_argument("--keep-alive", type=int, default=60, help="client keep-alive, s")
    parser.add_argument("--nat-timeout", type=int, default=9,
                        help="mqe_options_t.nat_timeout_s (default 9: keep-alive 5 s)")
    parser.add_argument("--down-s", type=float, default=6, help="link down for this long")
    parser.add_argument("--timeout", type=float, default=150, help="bound for the run, s")
    parser.add_argument("--no-netns", action="store_true", help="stay on 127.0.0.1")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--listen", default=with_broker.HOST, help=argparse.SUPPRESS)
    parser.add_argument("--client-ns", default=None, help=argparse.SUPPRESS)
    parser.add_argument("client", nargs=argparse.REMAINDER, help="-- the client program")
    args = parser.parse_args()
    args.client = args.client[1:] if args.client[:1] == ["--"] else args.client
    if not args.client:
        parser.error("no client program given")
    if args.inner or args.no_netns:
        return run_inner(args)
    if not netns_usable():
        print("cell_link: network namespaces unavailable (needs root): on 127.0.0.1")
        return run_inner(args)
    argv = ["--rtt-ms", str(args.rtt_ms[0]), str(args.rtt_ms[1]), "--kbps", str(args.kbps),
            "--keep-alive", str(args.keep_alive), "--nat-timeout", str(args.nat_timeout),
            "--down-s", str(args.down_s), "--timeout", str(args.timeout), "--"] + args.client
    return run_in_namespaces(args, argv)


if __name__ == "__main__":
    sys.exit(main())
