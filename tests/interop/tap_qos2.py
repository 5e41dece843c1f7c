#!/usr/bin/env python3
"""Where the soak's QoS 2 duplicates come from, read off the proxies' taps.

    scripts/soak.py --broker aedes --tap-dir build/tap ... -- build/soak
    tests/interop/tap_qos2.py build/tap/pub.tap build/tap/sub.tap

For each QoS 2 message (topic ending in /q2, payload = its sequence number) that was forwarded
to the subscriber more than once, it says which of these happened:
- the publisher re-sent its PUBLISH (DUP 1, allowed before PUBREC) and the broker forwarded
  both (MQTT-4.3.3-2 forbids it);
- the subscriber had completed it (PUBCOMP sent) and the broker sent it again (MQTT-4.3.3-1);
- the broker re-sent it before it completed, under the same id: a correct re-send (if DUP 1),
  which the client recognises unless the cut took the first copy before the client read it
  (the tap cannot tell: it sees what the proxy forwarded, not what the client read).
It also counts PUBLISHes the publisher sent after its own PUBREL for the same id (a client bug).
"""

import collections
import struct
import sys


def streams(path):
    """{(connection, direction): bytes}, connections in accept order."""
    out = collections.OrderedDict()
    with open(path, "rb") as f:
        data = f.read()
    i = 0
    while i + 9 <= len(data):
        direction = data[i:i + 1].decode()
        conn, n = struct.unpack("<II", data[i + 1:i + 9])
        out.setdefault((conn, direction), bytearray()).extend(data[i + 9:i + 9 + n])
        i += 9 + n
    return out


def packets(buf):
    """(first byte, body) of each whole packet; a cut packet at the end is dropped."""
    i = 0
    while i < len(buf):
        j, mult, n = i + 1, 1, 0
        while j < len(buf):
            b = buf[j]
            n += (b & 0x7F) * mult
            mult *= 128
            j += 1
            if not b & 0x80:
                break
        else:
            return
        if j + n > len(buf):
            return
        yield buf[i], bytes(buf[j:j + n])
        i = j + n


def events(path):
    """{seq: [(conn, who, what, id, dup)]} for the QoS 2 topic, in connection order; within a
    connection the two directions are not interleaved (the tap keeps no timestamps)."""
    ev = collections.defaultdict(list)
    acks = []
    for (conn, direction), buf in streams(path).items():
        for head, body in packets(buf):
            kind = head >> 4
            if kind == 3 and (head >> 1) & 3 == 2 and len(body) >= 2:
                tl = struct.unpack("!H", body[:2])[0]
                if body[2:2 + tl].endswith(b"/q2"):
                    pid = struct.unpack("!H", body[2 + tl:4 + tl])[0]
                    seq = int(body[4 + tl:] or b"0")
                    ev[seq].append((conn, direction, "PUBLISH", pid, (head >> 3) & 1))
            elif kind in (5, 6, 7) and len(body) >= 2:
                acks.append((conn, direction, kind, struct.unpack("!H", body[:2])[0]))
    # An acknowledgement belongs to the message last published under its id on that connection.
    by_id = {}
    for seq, evs in ev.items():
        for e in evs:
            by_id[(e[0], e[3])] = seq
    for conn, direction, kind, pid in acks:
        seq = by_id.get((conn, pid))
        if seq is not None:
            ev[seq].append((conn, direction, {5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP"}[kind], pid, 0))
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
        delivered = [x for x in evs if x[1] == "s" and x[2] == "PUBLISH"]
        if len(delivered) < 2:
            continue
        first_conn = delivered[0][0]
        completed = any(x[0] == first_conn and x[1] == "c" and x[2] == "PUBCOMP" for x in evs)
        second = delivered[1]
        if completed and second[0] > first_conn:
            kinds[f"completed, then re-sent on a later connection (DUP {second[4]})"] += 1
        elif second[3] == delivered[0][3]:
            kinds[f"re-sent before it completed, same id, DUP {second[4]} (the client holds the id: "
                  "it delivers it again only if it lost the first copy to the cut)"] += 1
        elif seq in resent:
            kinds["publisher re-sent it (before PUBREC); the broker forwarded both"] += 1
        else:
            kinds["other"] += 1
    print(f"publisher: {len(resent)} QoS 2 messages re-sent, {after_rel} re-sent after its PUBREL")
    print(f"subscriber: {sum(kinds.values())} QoS 2 messages forwarded to it more than once:")
    for what, n in kinds.most_common():
        print(f"  {n:5d}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
