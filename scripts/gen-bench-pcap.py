#!/usr/bin/env python3
"""Write large pcaps for benchmarks (generated on demand, never committed).

    # The flows of a real capture repeated until N packets are written, every
    # client given a new port (and server port block when ports run out):
    python3 scripts/gen-bench-pcap.py captures/linux-default.pcap /tmp/bench.pcap 3000000
    # SYN-heavy: 12 packets per handshake (20k handshakes = 240k packets)
    python3 scripts/gen-bench-pcap.py captures/many-attempts.pcap /tmp/syn20k.pcap 240000
    # A flood of N SYNs that are never answered, each from its own 4-tuple:
    python3 scripts/gen-bench-pcap.py --flood captures/linux-default.pcap /tmp/flood.pcap 2000000

Only ports (and, in a flood, the client address) change; checksums are not
fixed up: neither synlab, tshark nor p0f check them by default. So every copy
is a new connection attempt with the same attributes as the original.
"""
import struct
import sys


def read(src):
    data = open(src, "rb").read()
    assert data[:4] == b"\xd4\xc3\xb2\xa1", "little-endian microsecond pcap expected"
    header = data[:24]
    assert struct.unpack_from("<I", header, 20)[0] == 1, "Ethernet capture expected"
    recs, off = [], 24
    while off + 16 <= len(data):
        ts, us, cap, orig = struct.unpack_from("<IIII", data, off)
        recs.append((ts, us, orig, bytearray(data[off + 16: off + 16 + cap])))
        off += 16 + cap
    return header, recs


def tcp_offset(frame):
    """Where the TCP header starts (IPv4 over Ethernet, no VLAN)."""
    return 14 + (frame[14] & 0x0F) * 4


def repeat(src, dst, total):
    header, recs = read(src)
    offsets = [tcp_offset(f) for _, _, _, f in recs]
    # Every client port (the source port of a SYN without ACK), numbered.
    clients = {}
    for (_, _, _, f), t in zip(recs, offsets):
        sport = struct.unpack_from(">H", f, t)[0]
        if f[t + 13] & 0x12 == 0x02 and sport not in clients:
            clients[sport] = len(clients)
    span = recs[-1][0] - recs[0][0] + 1  # whole seconds one copy lasts
    out = open(dst, "wb")
    out.write(header)
    written, copy = 0, 0
    while written < total:
        for (ts, us, orig, frame), t in zip(recs, offsets):
            f = bytearray(frame)
            sport, dport = struct.unpack_from(">HH", f, t)
            for port, is_src in ((sport, True), (dport, False)):
                if port in clients:
                    n = copy * len(clients) + clients[port]
                    new_port, shift = 1024 + n % 64000, n // 64000
                    if is_src:
                        struct.pack_into(">HH", f, t, new_port, dport + shift)
                    else:
                        struct.pack_into(">HH", f, t, sport + shift, new_port)
                    break
            out.write(struct.pack("<IIII", ts + copy * span, us, len(f), orig))
            out.write(f)
            written += 1
            if written >= total:
                break
        copy += 1
    out.close()
    print(f"{dst}: {written} packets, {copy} copies of {len(recs)}-packet {src}")


def flood(src, dst, total):
    header, recs = read(src)
    ts, us, orig, syn = next(r for r in recs if r[3][tcp_offset(r[3]) + 13] & 0x12 == 0x02)
    t = tcp_offset(syn)
    out = open(dst, "wb")
    out.write(header)
    for i in range(total):
        f = bytearray(syn)
        # Client 198.18.H.L:P, a new 4-tuple for each SYN; 10 us apart.
        host = i // 64000
        f[28], f[29] = 1 + host // 250, 2 + host % 250
        struct.pack_into(">H", f, t, 1024 + i % 64000)
        at = us + i * 10
        out.write(struct.pack("<IIII", ts + at // 1_000_000, at % 1_000_000, len(f), orig))
        out.write(f)
    out.close()
    print(f"{dst}: {total} unanswered SYNs")


def main():
    args = sys.argv[1:]
    if args and args[0] == "--flood":
        flood(args[1], args[2], int(args[3]))
    else:
        repeat(args[0], args[1], int(args[2]))


if __name__ == "__main__":
    main()
