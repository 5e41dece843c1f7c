#!/usr/bin/env python3
"""A Quectel modem's TCP/IP AT commands on a pseudo-terminal, for ports/quectel_at's tests.

    scripts/modem_emulator.py [options] -- COMMAND [ARGS...]

Opens a pty pair, runs COMMAND with MQE_MODEM_TTY (the pty's path, to open as the UART)
and MQE_MODEM_CTL (a Unix datagram socket, the control channel) in its environment, and
plays the modem on the other end until COMMAND exits. The data of each AT socket goes over
a real TCP socket to wherever AT+QIOPEN says (mosquitto on 127.0.0.1 in the tests).

The AT subset (BG95/BG96/EC2x TCP/IP AT commands manual): AT, ATE0/ATE1, AT+QIACT?,
AT+QIACT=<ctx>, AT+QIDEACT=<ctx>, AT+QIDNSGIP=<ctx>,"<host>" (URCs "dnsgip"),
AT+QIOPEN=<ctx>,<id>,"TCP","<ip>",<port>,0,0 (URC +QIOPEN), AT+QISEND=<id>,<len> ('>',
SEND OK / SEND FAIL), AT+QIRD=<id>,<len> (+QIRD: n, buffer access mode: one URC
+QIURC: "recv" until the buffer has been read empty), AT+QICLOSE=<id>; URCs "closed" and
"pdpdeact"; ERROR and +CME ERROR: <n>. Responses come after realistic delays at the UART's
baud rate; unrelated URCs (+CGREG, +QIND) are slipped into responses at random; echo is
on at start, as on a real modem.

Control datagrams: "cut [ID]" (drop every TCP socket, or connectID ID's: +QIURC:
"closed"), "pdp" (deactivate the PDP context: +QIURC: "pdpdeact"), "reset" (the modem
restarts: sockets, context and echo setting are lost, the UART is deaf for 0.2-0.5 s, then
RDY), "hold" / "release" (stop / resume reading from the network, so acknowledgements
wait), "sendfail N" (the next N AT+QISEND answer SEND FAIL), "stats" (answered to the
sender: key=value pairs). --cut-every makes cuts on its own, in turn a socket drop, a PDP
deactivation and a modem restart.

Exit status: COMMAND's; 124 when --timeout expires (COMMAND is killed by its PID); 1 when
COMMAND passed but fewer than --min-cuts cuts were made.
"""

import argparse
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import tty

TIMEOUT_STATUS = 124
MAX_SEND = 1460
MAX_READ = 1500
NOISE = [b'+CGREG: 1', b'+QIND: "csq",21,99', b'+CREG: 1']


class Sock:
    def __init__(self, cid):
        self.cid = cid
        self.tcp = None
        self.state = "opening"  # opening, up, closed (by the network), dead (PDP gone)
        self.rx = bytearray()
        self.urc_armed = True  # buffer access mode: one "recv" URC until read empty
        self.open_at = 0.0
        self.mqtt = bytearray()  # host -> broker bytes, parsed for the DUP count


class Modem:
    def __init__(self, args, master):
        self.args = args
        self.master = master
        self.rng = random.Random(args.seed)
        self.echo = True
        self.pdp = False
        self.socks = {}
        self.inbuf = bytearray()
        self.data_for = None  # (sock id, length) while taking AT+QISEND data
        self.out = []  # (time, seq, bytes), sent in time order
        self.seq = 0
        self.last_t = 0.0
        self.deferred = []
        self.hold = False
        self.send_fail_next = 0
        self.rate = args.baud / 10.0  # bytes per second (8N1)
        self.credit = 0.0
        self.credit_t = time.monotonic()
        self.booting_until = None
        self.stats = dict(commands=0, cuts_tcp=0, cuts_pdp=0, cuts_reset=0, send_fail=0,
                          dup_publish=0,
                          publish=0, qird=0, qisend=0, noise=0, at_in=0, at_out=0)
        self.next_cut = None
        self.cut_kind = 0
        self.pending_opens = []
        self.pending_dns = []
        if args.cut_every:
            lo, hi = args.cut_every
            self.cut_range = (lo / 1000.0, hi / 1000.0)
            self.next_cut = time.monotonic() + self.rng.uniform(*self.cut_range)

    def log(self, text):
        if self.args.log is not None:
            self.args.log.write(f"{time.monotonic():.3f} {text}\n")

    # ---- output ------------------------------------------------------------------------
    def emit(self, data, delay_ms=0.0, urc=False):
        """Queues bytes; a response keeps its order, a URC may land between its parts."""
        now = time.monotonic()
        if urc:
            if self.data_for is not None and self.echo:
                self.deferred.append(data)  # never inside echoed data
                return
            t = now + delay_ms / 1000.0
        else:
            t = max(now + delay_ms / 1000.0, self.last_t)
            self.last_t = t
        self.seq += 1
        if self.args.log is not None and data.strip():
            self.log("<< " + bytes(data).strip().decode("latin-1")[:80].replace("\r\n", " | "))
        self.out.append((t, self.seq, bytes(data)))
        self.out.sort()

    def urc(self, text):
        self.emit(b"\r\n" + text + b"\r\n", urc=True)

    def respond(self, text, delay_ms=None):
        if delay_ms is None:
            delay_ms = self.rng.uniform(2, 15)
        self.emit(b"\r\n" + text + b"\r\n", delay_ms)

    def maybe_noise(self):
        if self.rng.random() < self.args.noise:
            self.stats["noise"] += 1
            self.emit(b"\r\n" + self.rng.choice(NOISE) + b"\r\n", self.rng.uniform(0, 3))

    def flush(self):
        now = time.monotonic()
        self.credit = min(self.credit + (now - self.credit_t) * self.rate, 256.0)
        self.credit_t = now
        while self.out and self.out[0][0] <= now and self.credit >= 1:
            t, seq, data = self.out[0]
            n = min(len(data), int(self.credit))
            try:
                written = os.write(self.master, data[:n])
            except BlockingIOError:
                return
            self.credit -= written
            self.stats["at_out"] += written
            if written < len(data):
                self.out[0] = (t, seq, data[written:])
            else:
                self.out.pop(0)

    def next_wake(self):
        if not self.out:
            return 0.05
        return max(0.0, min(0.05, self.out[0][0] - time.monotonic(), 0.002))

    # ---- input -------------------------------------------------------------------------
    def feed(self, data):
        self.stats["at_in"] += len(data)
        if self.booting_until is not None:
            return  # restarting: the UART is not listening yet
        self.inbuf += data
        while self.inbuf:
            if self.data_for is not None:
                cid, need = self.data_for
                take = bytes(self.inbuf[:need])
                del self.inbuf[:need]
                self.data_buf += take
                if self.echo:
                    self.emit(take)
                need -= len(take)
                self.data_for = (cid, need) if need > 0 else None
                if need == 0:
                    self.finish_send(cid, bytes(self.data_buf))
                continue
            end = self.inbuf.find(b"\r")
            if end < 0:
                if len(self.inbuf) > 512:
                    self.inbuf.clear()
                return
            line = bytes(self.inbuf[:end])
            del self.inbuf[:end + 1]
            if self.inbuf[:1] == b"\n":
                del self.inbuf[:1]
            if self.echo:
                self.emit(line + b"\r")
            line = line.strip()
            if line:
                self.stats["commands"] += 1
                self.log(">> " + line.decode("latin-1"))
                self.command(line.decode("latin-1"))

    def command(self, line):
        up = line.upper()
        if up == "AT":
            return self.respond(b"OK")
        if up in ("ATE0", "ATE1"):
            self.echo = up == "ATE1"
            return self.respond(b"OK")
        if up == "AT+QIACT?":
            if self.pdp:
                self.respond(b'+QIACT: 1,1,1,"10.7.0.2"')
                self.maybe_noise()
            return self.respond(b"OK")
        m = re.fullmatch(r"AT\+QIACT=(\d+)", up)
        if m:
            if m.group(1) != "1":
                return self.respond(b"+CME ERROR: 561")
            self.pdp = True
            return self.respond(b"OK", self.rng.uniform(150, 500))
        m = re.fullmatch(r"AT\+QIDEACT=(\d+)", up)
        if m:
            self.pdp = False
            for s in list(self.socks.values()):
                self.drop_tcp(s, "dead")
            return self.respond(b"OK", self.rng.uniform(30, 150))
        m = re.fullmatch(r'AT\+QIDNSGIP=(\d+),"([^"]+)"', line, re.I)
        if m:
            if not self.pdp:
                return self.respond(b"+CME ERROR: 561")
            self.respond(b"OK")
            self.pending_dns.append((time.monotonic() + self.rng.uniform(0.05, 0.2), m.group(2)))
            return None
        m = re.fullmatch(r'AT\+QIOPEN=(\d+),(\d+),"TCP","([^"]+)",(\d+)(?:,(\d+))?(?:,(\d+))?',
                         line, re.I)
        if m:
            return self.qiopen(int(m.group(2)), m.group(3), int(m.group(4)), m.group(6))
        m = re.fullmatch(r"AT\+QISEND=(\d+),(\d+)", up)
        if m:
            return self.qisend(int(m.group(1)), int(m.group(2)))
        m = re.fullmatch(r"AT\+QIRD=(\d+),(\d+)", up)
        if m:
            return self.qird(int(m.group(1)), int(m.group(2)))
        m = re.fullmatch(r"AT\+QICLOSE=(\d+)(?:,(\d+))?", up)
        if m:
            s = self.socks.pop(int(m.group(1)), None)
            if s is not None:
                self.drop_tcp(s, "dead")
            return self.respond(b"OK", self.rng.uniform(5, 40))
        return self.respond(b"ERROR")

    def qiopen(self, cid, host, port, mode):
        if cid in self.socks:
            return self.respond(b"+CME ERROR: 563")  # socket identity has been used
        if mode not in (None, "0"):
            return self.respond(b"+CME ERROR: 552")  # only buffer access mode here
        self.respond(b"OK")
        s = Sock(cid)
        self.socks[cid] = s
        if not self.pdp:
            s.state = "dead"
            self.urc(b"+QIOPEN: %d,561" % cid)
            return None
        try:
            s.tcp = socket.create_connection((host, port), timeout=2)
            s.tcp.setblocking(False)
            s.tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            s.state = "dead"
            self.urc(b"+QIOPEN: %d,566" % cid)  # socket connect failed
            return None
        s.open_at = time.monotonic() + self.rng.uniform(0.03, 0.15)  # the radio round trip
        self.pending_opens.append(s)
        return None

    def qisend(self, cid, n):
        s = self.socks.get(cid)
        if s is None or s.state != "up" or n > MAX_SEND or n == 0:
            return self.respond(b"ERROR")
        self.stats["qisend"] += 1
        self.maybe_noise()
        self.emit(b"\r\n> ", self.rng.uniform(1, 5))
        self.data_for = (cid, n)
        self.data_buf = bytearray()
        return None

    def finish_send(self, cid, data):
        s = self.socks.get(cid)
        every = self.args.send_fail_every
        fail = (self.send_fail_next > 0 or self.rng.random() < self.args.send_fail or
                (every > 0 and self.stats["qisend"] % every == 0))
        if s is None or s.state != "up":
            self.respond(b"ERROR")
        elif fail:
            self.send_fail_next = max(0, self.send_fail_next - 1)
            self.stats["send_fail"] += 1
            self.respond(b"SEND FAIL")  # the modem's send buffer is full: nothing sent
        else:
            try:
                s.tcp.sendall(data)
            except OSError:
                self.net_closed(s)
                self.respond(b"ERROR")
            else:
                self.count_mqtt(s, data)
                self.respond(b"SEND OK", self.rng.uniform(3, 20))
        for urc in self.deferred:
            self.emit(urc, urc=True)
        self.deferred = []

    def count_mqtt(self, s, data):
        s.mqtt += data
        while len(s.mqtt) >= 2:
            length, mult, i = 0, 1, 1
            while i < len(s.mqtt) and i <= 4:
                b = s.mqtt[i]
                length += (b & 0x7F) * mult
                mult *= 128
                i += 1
                if b & 0x80 == 0:
                    break
            else:
                return
            if len(s.mqtt) < i + length:
                return
            if s.mqtt[0] >> 4 == 3:
                self.stats["publish"] += 1
                if s.mqtt[0] & 0x08:
                    self.stats["dup_publish"] += 1
            del s.mqtt[:i + length]

    def qird(self, cid, n):
        s = self.socks.get(cid)
        if s is None or s.state in ("opening", "dead"):
            return self.respond(b"ERROR")
        self.stats["qird"] += 1
        k = min(n, MAX_READ, len(s.rx))
        data = bytes(s.rx[:k])
        del s.rx[:k]
        if not s.rx:
            s.urc_armed = True
        delay = self.rng.uniform(2, 10)
        if k == 0:
            self.emit(b"\r\n+QIRD: 0\r\n", delay)
        else:
            self.emit(b"\r\n+QIRD: %d\r\n" % k + data + b"\r\n", delay)
        self.maybe_noise()
        self.emit(b"\r\nOK\r\n")
        return None

    # ---- network -----------------------------------------------------------------------
    def drop_tcp(self, s, state):
        if s.tcp is not None:
            try:
                s.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.tcp.close()
            except OSError:
                pass
            s.tcp = None
        s.state = state
        if s in self.pending_opens:
            self.pending_opens.remove(s)

    def net_closed(self, s):
        self.drop_tcp(s, "closed")
        self.urc(b'+QIURC: "closed",%d' % s.cid)

    def on_tcp(self, s):
        try:
            data = s.tcp.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            return self.net_closed(s)
        s.rx += data
        if s.urc_armed:
            s.urc_armed = False
            self.urc(b'+QIURC: "recv",%d' % s.cid)
        return None

    def cut(self, kind, cid=None):
        self.log(f"-- cut {kind}")
        if kind == "reset":
            # The modem restarts: sockets, context, echo setting and pending output are gone;
            # it says RDY once it listens again.
            self.stats["cuts_reset"] += 1
            for s in self.socks.values():
                self.drop_tcp(s, "dead")
            self.socks.clear()
            self.pdp = False
            self.echo = True
            self.inbuf.clear()
            self.data_for = None
            self.deferred = []
            self.out.clear()
            self.pending_dns.clear()
            self.booting_until = time.monotonic() + self.rng.uniform(0.2, 0.5)
        elif kind == "pdp":
            self.stats["cuts_pdp"] += 1
            self.pdp = False
            for s in self.socks.values():
                self.drop_tcp(s, "dead")
            self.urc(b'+QIURC: "pdpdeact",1')
        else:
            self.stats["cuts_tcp"] += 1
            for s in self.socks.values():
                if s.state == "up" and cid in (None, s.cid):
                    self.net_closed(s)

    def timers(self):
        now = time.monotonic()
        if self.booting_until is not None and now >= self.booting_until:
            self.booting_until = None
            self.urc(b"RDY")
        for s in [s for s in self.pending_opens if s.open_at <= now]:
            self.pending_opens.remove(s)
            s.state = "up"
            self.urc(b"+QIOPEN: %d,0" % s.cid)
        while self.pending_dns and self.pending_dns[0][0] <= now:
            _, host = self.pending_dns.pop(0)
            try:
                addrs = sorted({a[4][0] for a in socket.getaddrinfo(host, None, socket.AF_INET)})
            except OSError:
                addrs = []
            if not addrs:
                self.urc(b'+QIURC: "dnsgip",565')
                continue
            self.urc(b'+QIURC: "dnsgip",0,%d,600' % len(addrs))
            for a in addrs:
                self.urc(b'+QIURC: "dnsgip","%s"' % a.encode())
        auto_cuts = self.cut_kind
        if self.next_cut is not None and now >= self.next_cut and (
                self.args.max_cuts == 0 or auto_cuts < self.args.max_cuts):
            if any(s.state == "up" for s in self.socks.values()):
                kinds = self.args.cut_kinds
                self.cut(kinds[self.cut_kind % len(kinds)])
                self.cut_kind += 1
            self.next_cut = now + self.rng.uniform(*self.cut_range)

    def control(self, msg):
        words = msg.split()
        if not words:
            return None
        if words[0] in ("pdp", "reset"):
            self.cut(words[0])
        elif words[0] == "cut":
            self.cut("tcp", int(words[1]) if len(words) > 1 else None)
        elif words[0] == "hold":
            self.hold = True
        elif words[0] == "release":
            self.hold = False
        elif words[0] == "sendfail" and len(words) == 2:
            self.send_fail_next = int(words[1])
        elif words[0] == "stats":
            return " ".join(f"{k}={v}" for k, v in sorted(self.stats.items()))
        return "ok"

    def tcp_socks(self):
        if self.hold:
            return []
        return [s for s in self.socks.values() if s.tcp is not None and s.state == "up"]

    def close_all(self):
        for s in self.socks.values():
            self.drop_tcp(s, "dead")


def parse_range(text):
    lo, _, hi = text.partition(":")
    return (float(lo), float(hi or lo))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--baud", type=int, default=115200,
                    help="pace of the modem-to-host bytes (8N1)")
    ap.add_argument("--noise", type=float, default=0.1,
                    help="chance of an unrelated URC inside a response")
    ap.add_argument("--send-fail", type=float, default=0.0,
                    help="chance that an AT+QISEND answers SEND FAIL")
    ap.add_argument("--send-fail-every", type=int, default=0, metavar="N",
                    help="every Nth AT+QISEND answers SEND FAIL")
    ap.add_argument("--cut-every", type=parse_range, default=None, metavar="MIN_MS:MAX_MS",
                    help="cut on its own at random intervals: socket drop, PDP, restart, ...")
    ap.add_argument("--min-cuts", type=int, default=0)
    ap.add_argument("--cut-kinds", type=lambda s: s.split(","), default=["tcp", "pdp", "reset"],
                    help="what --cut-every does, in turn (default tcp,pdp,reset)")
    ap.add_argument("--max-cuts", type=int, default=0,
                    help="stop cutting on its own after this many (0: never)")
    ap.add_argument("--log", type=argparse.FileType("w"), default=None,
                    help="write every command, response and cut here (debugging)")
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)

    master, slave = os.openpty()
    tty.setraw(slave)  # no line discipline: bytes pass as they are, no echo by the tty
    os.set_blocking(master, False)
    workdir = tempfile.mkdtemp(prefix="mqe-modem-")
    ctl_path = os.path.join(workdir, "ctl")
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ctl.bind(ctl_path)
    ctl.setblocking(False)
    modem = Modem(args, master)

    env = dict(os.environ, MQE_MODEM_TTY=os.ttyname(slave), MQE_MODEM_CTL=ctl_path)
    print(f"modem_emulator: {os.ttyname(slave)}, seed {args.seed}", file=sys.stderr)
    child = subprocess.Popen(args.command, env=env)
    deadline = time.monotonic() + args.timeout
    status = None
    try:
        while time.monotonic() < deadline:
            status = child.poll()
            if status is not None:
                break
            socks = modem.tcp_socks()
            fds = [master, ctl] + [s.tcp for s in socks]
            ready, _, _ = select.select(fds, [], [], modem.next_wake())
            if master in ready:
                try:
                    modem.feed(os.read(master, 4096))
                except (BlockingIOError, OSError):
                    pass
            if ctl in ready:
                try:
                    msg, sender = ctl.recvfrom(256)
                    reply = modem.control(msg.decode("ascii", "replace"))
                    if reply is not None and sender:
                        ctl.sendto(reply.encode(), sender)
                except OSError:
                    pass
            for s in socks:
                if s.tcp is not None and s.tcp in ready:
                    modem.on_tcp(s)
            modem.timers()
            modem.flush()
    finally:
        if status is None:
            child.kill()  # by its PID
            child.wait()
        modem.close_all()
        ctl.close()
        os.unlink(ctl_path)
        os.rmdir(workdir)
        os.close(master)
        os.close(slave)
    stats = " ".join(f"{k}={v}" for k, v in sorted(modem.stats.items()))
    print(f"modem_emulator: {stats}", file=sys.stderr)
    if status is None:
        print(f"modem_emulator: timed out after {args.timeout} s", file=sys.stderr)
        return TIMEOUT_STATUS
    cuts = modem.stats["cuts_tcp"] + modem.stats["cuts_pdp"] + modem.stats["cuts_reset"]
    if status == 0 and cuts < args.min_cuts:
        print(f"modem_emulator: only {cuts} cuts, fewer than {args.min_cuts}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(TIMEOUT_STATUS))
    sys.exit(main())
