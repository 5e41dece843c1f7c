#!/usr/bin/env python3
"""Raw-socket probes of one broker's QoS 2 and session behaviour, for docs/BROKERS.md.

    tests/interop/probe.py BROKER      (a fresh broker from scripts/brokers.py)

Each probe prints what the broker did; nothing is judged here (the matrix judges the client).
- pubrel-unknown: PUBREL for an id the broker never saw (after a completed exchange: the
  re-send MQTT-4.4.0-1 makes a client do after a reconnect). MQTT-4.3.3-2: answer PUBCOMP.
- pubrel-resend: QoS 2 id 7 completed, reconnect (CleanSession=0), PUBREL 7 again.
- qos2-resend-after-complete: the broker sends us a QoS 2 message, we complete it, reconnect:
  does it send it again (MQTT-4.3.3-1 forbids re-sending after the PUBREL)?
- qos2-pubrel-next-connection: a QoS 2 PUBLISH gets its PUBREC, the connection ends before our
  PUBREL, which goes on the next one: does the broker forward the message on PUBLISH or on
  PUBREL, and does it still have it then (MQTT-4.3.3-2: with the PUBREC it took ownership)?
- qos2-pubrel-after-restart (brokers with sessions that survive a restart, i.e. mosquitto with
  persistence): the broker sends us QoS 2 messages (22 with an in-flight window of 20), we
  PUBREC each and get its PUBREL; we PUBCOMP only the first, which lets the rest in; the broker
  restarts; we reconnect. MQTT-4.3.3-1: it may re-send the PUBRELs, never those PUBLISHes (the
  ids are released: the client must take such a PUBLISH as a new message, MQTT-4.3.3-2).
Bounded: every read waits at most 2 s.
"""

import os
import socket
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import brokers  # noqa: E402
import with_broker  # noqa: E402

USER = "mqe-probe"
PASS = "probe-pass"


def utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def packet(kind_flags, body):
    n, rl = len(body), b""
    while True:
        d, n = n % 128, n // 128
        rl += bytes([d | (0x80 if n else 0)])
        if not n:
            break
    return bytes([kind_flags]) + rl + body


def connect(port, client_id, clean, login):
    s = socket.create_connection((brokers.HOST, port), timeout=2)
    flags = (0x02 if clean else 0) | (0xC0 if login else 0)
    body = utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", 30) + utf8(client_id)
    if login:
        body += utf8(USER) + utf8(PASS)
    s.sendall(packet(0x10, body))
    return s, read(s)


def read(s):
    """One packet as (type, flags, body), or a string saying why there is none."""
    try:
        head = s.recv(1)
        if not head:
            return "closed"
        mult, n = 1, 0
        while True:
            b = s.recv(1)[0]
            n += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                return "closed"
            body += chunk
        return (head[0] >> 4, head[0] & 0x0F, body)
    except socket.timeout:
        return "nothing (2 s)"
    except OSError as e:
        return f"closed ({e.strerror})"


NAMES = {2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP",
         9: "SUBACK", 13: "PINGRESP"}


def show(p):
    if isinstance(p, str):
        return p
    kind, flags, body = p
    name = NAMES.get(kind, str(kind))
    if kind == 3:
        tl = struct.unpack("!H", body[:2])[0]
        qos = (flags >> 1) & 3
        pid = struct.unpack("!H", body[2 + tl:4 + tl])[0] if qos else None
        return f"PUBLISH qos {qos} dup {flags >> 3} id {pid} {body[2:2 + tl].decode()!r}"
    if kind in (4, 5, 6, 7):
        return f"{name} {struct.unpack('!H', body[:2])[0]}"
    return f"{name} {body.hex()}"


def probe(port, login, run):
    # 1. PUBREL for an id the broker does not hold.
    s, ack = connect(port, f"{run}a", False, login)
    s.sendall(packet(0x62, struct.pack("!H", 4242)))
    print(f"pubrel-unknown: CONNACK {show(ack)}; PUBREL 4242 -> {show(read(s))}")
    s.close()

    # 2. A completed QoS 2 exchange, then the PUBREL again on a new connection.
    s, _ = connect(port, f"{run}b", False, login)
    s.sendall(packet(0x34, utf8(f"probe/{run}/b") + struct.pack("!H", 7) + b"x"))
    rec = read(s)
    s.sendall(packet(0x62, struct.pack("!H", 7)))
    comp = read(s)
    s.close()
    s, ack = connect(port, f"{run}b", False, login)
    s.sendall(packet(0x62, struct.pack("!H", 7)))
    again = read(s)
    after = "-"
    if not isinstance(again, str):
        s.sendall(packet(0xC0, b""))
        after = show(read(s))
    print(f"pubrel-resend: PUBLISH 7 -> {show(rec)}, PUBREL 7 -> {show(comp)}; reconnect "
          f"{show(ack)}; PUBREL 7 again -> {show(again)}; then PINGREQ -> {after}")
    s.close()

    # 3. The broker sends us a QoS 2 message; we complete it; we reconnect.
    sub, _ = connect(port, f"{run}c", False, login)
    topic = f"probe/{run}/c"
    sub.sendall(packet(0x82, struct.pack("!H", 1) + utf8(topic) + b"\x02"))
    suback = read(sub)
    pub, _ = connect(port, f"{run}d", True, login)
    pub.sendall(packet(0x34, utf8(topic) + struct.pack("!H", 9) + b"once"))
    read(pub)
    pub.sendall(packet(0x62, struct.pack("!H", 9)))
    read(pub)
    msg = read(sub)
    seen = [show(msg)]
    if not isinstance(msg, str) and msg[0] == 3:
        tl = struct.unpack("!H", msg[2][:2])[0]
        pid = msg[2][2 + tl:4 + tl]
        sub.sendall(packet(0x50, pid))  # PUBREC
        rel = read(sub)
        seen.append(show(rel))
        sub.sendall(packet(0x70, pid))  # PUBCOMP
    sub.close()
    pub.close()
    sub, ack = connect(port, f"{run}c", False, login)
    print(f"qos2-resend-after-complete: SUBACK {show(suback)}; got {' / '.join(seen)}, "
          f"completed; reconnect {show(ack)} -> {show(read(sub))}")
    sub.close()

    # 4. When does the broker forward a QoS 2 message: on PUBLISH or on PUBREL? And does it
    #    keep one whose PUBREL comes only on the next connection (CleanSession=0)?
    sub, _ = connect(port, f"{run}e", True, login)
    topic = f"probe/{run}/e"
    sub.sendall(packet(0x82, struct.pack("!H", 1) + utf8(topic) + b"\x02"))
    read(sub)
    pub, _ = connect(port, f"{run}f", False, login)
    pub.sendall(packet(0x34, utf8(topic) + struct.pack("!H", 11) + b"held"))
    rec = read(pub)
    before = show(read(sub))
    pub.close()  # our PUBREL never went out on this connection
    pub, ack = connect(port, f"{run}f", False, login)
    pub.sendall(packet(0x62, struct.pack("!H", 11)))
    comp = show(read(pub))
    after = show(read(sub))
    print(f"qos2-pubrel-next-connection: PUBLISH 11 -> {show(rec)}; subscriber before PUBREL: "
          f"{before}; reconnect {show(ack)}, PUBREL 11 -> {comp}; subscriber then: {after}")
    sub.close()
    pub.close()


def publish_qos2(port, login, client_id, topic, payloads):
    """Publishes each payload at QoS 2 and completes it (ids 1, 2, ...)."""
    pub, _ = connect(port, client_id, True, login)
    for i, payload in enumerate(payloads, 1):
        pub.sendall(packet(0x34, utf8(topic) + struct.pack("!H", i) + payload))
        read(pub)
        pub.sendall(packet(0x62, struct.pack("!H", i)))
        read(pub)
    pub.close()


def drain(s, limit):
    """Reads up to limit packets (each waits at most 2 s); answers PUBLISH with PUBREC only."""
    got = []
    for _ in range(limit):
        p = read(s)
        if isinstance(p, str):
            break
        kind, flags, body = p
        if kind == 3:
            tl = struct.unpack("!H", body[:2])[0]
            s.sendall(packet(0x50, body[2 + tl:4 + tl]))
            got.append(("P", struct.unpack("!H", body[2 + tl:4 + tl])[0], flags >> 3))
        elif kind == 6:
            got.append(("R", struct.unpack("!H", body[:2])[0], 0))
    return got


def summary(got):
    rel = sorted(i for k, i, _ in got if k == "R")
    rels = f"PUBREL {rel[0]}..{rel[-1]} ({len(rel)})" if rel else "no PUBREL"
    pubs = [f"{i} DUP {d}" for k, i, d in got if k == "P"]
    if len(pubs) > 4:
        pubs = [pubs[0], "...", pubs[-1]] + [f"({len(pubs)})"]
    return f"{rels}, PUBLISH {' '.join(pubs) or 'none'}"


def probe_restart(broker, login, run, inflight):
    # 5. Sessions across a restart: more ids waiting for PUBCOMP than the in-flight window.
    topic = f"probe/{run}/g"
    sub, _ = connect(broker.port, f"{run}g", False, login)
    sub.sendall(packet(0x82, struct.pack("!H", 1) + utf8(topic) + b"\x02"))
    read(sub)
    publish_qos2(broker.port, login, f"{run}h", topic, [b"m%d" % i for i in range(inflight + 2)])
    first = drain(sub, 2 * inflight + 4)
    released = [i for k, i, _ in first if k == "R"]
    if released:
        sub.sendall(packet(0x70, struct.pack("!H", released[0])))  # PUBCOMP the oldest only
    second = drain(sub, 2 * inflight + 8)
    sub.close()
    restarted = broker.restart()
    sub, ack = connect(broker.port, f"{run}g", False, login)
    third = drain(sub, 2 * inflight + 8)
    for _, i, _ in [x for x in third if x[0] == "R"][:1]:
        sub.sendall(packet(0x70, struct.pack("!H", i)))  # a PUBCOMP frees a window slot
    fourth = drain(sub, 8)
    sub.close()
    print(f"qos2-pubrel-after-restart: {inflight + 2} messages; got {summary(first)}; "
          f"PUBCOMP {released[:1]}: {summary(second)}; restart {'ok' if restarted else 'FAILED'}, reconnect "
          f"{show(ack)}: {summary(third)}; PUBCOMP for the first: {summary(fourth)}")


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "mosquitto"
    with tempfile.TemporaryDirectory(prefix="mqe-probe-") as workdir:
        log = open(os.path.join(workdir, "broker.log"), "w")
        env = dict(os.environ, MQE_BROKER_USER=USER, MQE_BROKER_PASS=PASS)
        broker = brokers.make(name, workdir, log, env=env)
        if broker.missing():
            print(broker.missing())
            return 1
        if not broker.start(with_broker.free_port()):
            print(f"{name} did not start")
            return 1
        try:
            print(f"== {name} {broker.version()}")
            probe(broker.port, broker.login, os.urandom(3).hex())
        finally:
            broker.stop()
        if broker.persistent:
            # max_inflight_messages of scripts/brokers.py's persistent mosquitto.
            broker = brokers.make(name, workdir, log, persistence=True, env=env)
            if broker.start(with_broker.free_port()):
                try:
                    probe_restart(broker, broker.login, os.urandom(3).hex(), 20)
                finally:
                    broker.stop()
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
