#!/usr/bin/env python3
"""Where the soak's QoS 2 duplicates come from, read off the proxies' taps.

    scripts/soak.py --broker aedes --tap-dir build/tap ... -- build/soak
    tests/interop/tap_qos2.py build/tap/pub.tap build/tap/sub.tap

For each QoS 2 message (topic ending in /q2, payload = its sequence number) that was forwarded
to the subscriber more than once, it says which of these happened:
- the publisher re-sent its PUBLISH (DUP 1, allowed before PUBREC) and the broker forwarded
  both under two ids (MQTT-4.3.3-2 forbids it);
- the broker sent it again after its own PUBREL for it (MQTT-4.3.3-1 forbids it; the client
  has released the id and must take it as new, MQTT-4.3.3-2);
- the broker re-sent it before it completed, under the same id: a correct re-send (if DUP 1),
  which the client recognises.
It also counts PUBLISHes the publisher sent after its own PUBREL for the same id (a client bug),
and says where each QoS 2 message the subscriber never acknowledged (no PUBREC from it) stopped:
- the broker never sent PUBREC to the publisher (it never took the message);
- the broker sent PUBREC but neither PUBCOMP nor the message to the subscriber: it still waits
  for a PUBREL (a broker that forwards on PUBREL, like mosquitto, whose publisher gave the
  PUBREL up: `abandoned` in the publisher's event);
- the broker completed it with the publisher but never sent it to the subscriber (still queued
  for the subscriber's session when the run ended);
- the broker sent it to the subscriber, which never acknowledged it (its connection dropped
  first; still in flight at the broker).
"""

import collections
import struct
import sys


def chunks(path):
    """(connection, direction, bytes) in the order the proxy forwarded them."""
    with open(path, "rb") as f:
        data = f.read()
    i = 0
    while i + 9 <= len(data):
        direction = data[i:i + 1].decode()
        conn, n = struct.unpack("<II", data[i + 1:i + 9])
        yield conn, direction, data[i + 9:i + 9 + n]
        i += 9 + n


def take_packet(buf):
    """(first byte, body) of the whole packet at the start of buf and its length, or None."""
    j, mult, n = 1, 1, 0
    while j < len(buf):
        b = buf[j]
        n += (b & 0x7F) * mult
        mult *= 128
        j += 1
        if not b & 0x80:
            break
    else:
        return None
    if j + n > len(buf):
        return None
    return (buf[0], bytes(buf[j:j + n])), j + n


def events(path):
    """{seq: [(conn, who, what, id, dup)]} for the QoS 2 topic, in the order on the wire (who:
    "c" client to broker, "s" broker to client). An acknowledgement belongs to the message last
    published under its id on that connection, else on an earlier one (the session goes on)."""
    ev = collections.defaultdict(list)
    bufs = collections.defaultdict(bytearray)
    last = {}  # (conn, id) -> seq, and id -> seq on any connection (a resumed session)
    for conn, direction, data in chunks(path):
        buf = bufs[(conn, direction)]
        buf.extend(data)
        while True:
            got = take_packet(buf)
            if got is None:
                break
            (head, body), used = got
            del buf[:used]
            kind = head >> 4
            if kind == 3 and (head >> 1) & 3 == 2 and len(body) >= 2:
                tl = struct.unpack("!H", body[:2])[0]
                if body[2:2 + tl].endswith(b"/q2"):
                    pid = struct.unpack("!H", body[2 + tl:4 + tl])[0]
                    seq = int(body[4 + tl:] or b"0")
                    last[(conn, pid)] = last[pid] = seq
                    ev[seq].append((conn, direction, "PUBLISH", pid, (head >> 3) & 1))
            elif kind in (5, 6, 7) and len(body) >= 2:
                pid = struct.unpack("!H", body[:2])[0]
                seq = last.get((conn, pid), last.get(pid))
                if seq is not None:
                    what = {5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP"}[kind]
                    ev[seq].append((conn, direction, what, pid, 0))
    return ev


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    pub, sub = events(sys.argv[1]), events(sys.argv[2])
    resent = {s for s, e in pub.items() if sum(x[1] == "c" and x[2] == "PUBLISH" for x in e) > 1}
    after_rel = 0
    for evs in pub.values():
        rel_conn = min((x[0] for x in evs if x[1] == "c" and x[2] == "PUBREL"), default=None)
        after_rel += rel_conn is not None and any(
            x[1] == "c" and x[2] == "PUBLISH" and x[0] > rel_conn for x in evs)
    kinds = collections.Counter()
    for seq, evs in sorted(sub.items()):
        sends = [k for k, x in enumerate(evs) if x[1] == "s" and x[2] == "PUBLISH"]
        if len(sends) < 2:
            continue
        again = evs[sends[1]]
        released = any(x[1] == "s" and x[2] == "PUBREL" for x in evs[:sends[1]])
        if released:
            kinds[f"sent again after the broker's own PUBREL for it, DUP {again[4]}"] += 1
        elif again[3] == evs[sends[0]][3]:
            kinds[f"sent again under the same id before it completed, DUP {again[4]} (a re-send: "
                  "the client recognises it)"] += 1
        elif seq in resent:
            kinds["forwarded twice, under two ids, after the publisher's re-send"] += 1
        else:
            kinds["sent twice under two ids"] += 1
    print(f"publisher: {len(resent)} QoS 2 messages re-sent, {after_rel} re-sent after its PUBREL")
    stuck = collections.Counter()
    for seq, evs in pub.items():
        got = sub.get(seq, [])
        if any(x[1] == "c" and x[2] == "PUBREC" for x in got):
            continue
        if not any(x[1] == "s" and x[2] == "PUBREC" for x in evs):
            stuck["the broker never sent PUBREC to the publisher"] += 1
        elif any(x[1] == "s" and x[2] == "PUBLISH" for x in got):
            stuck["sent to the subscriber, never acknowledged by it (its connections dropped first)"] += 1
        elif any(x[1] == "s" and x[2] == "PUBCOMP" for x in evs):
            stuck["completed with the publisher, never sent to the subscriber (queued at the broker)"] += 1
        else:
            sent_rel = any(x[1] == "c" and x[2] == "PUBREL" for x in evs)
            stuck["PUBREC to the publisher, no PUBCOMP, never forwarded"
                  + (" (the publisher sent PUBREL)" if sent_rel else " (no PUBREL on the wire)")] += 1
    print(f"subscriber: {sum(stuck.values())} QoS 2 messages it never acknowledged:")
    for what, n in stuck.most_common():
        print(f"  {n:5d}  {what}")
    print(f"subscriber: {sum(kinds.values())} QoS 2 messages forwarded to it more than once:")
    for what, n in kinds.most_common():
        print(f"  {n:5d}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
