#!/usr/bin/env python3
"""Write a large pcap for benchmarks: the flows of a real capture repeated
with new client ports (and shifted timestamps) until N packets are written.

    python3 scripts/gen-bench-pcap.py captures/linux-default.pcap /tmp/bench.pcap 3000000

Only the client port changes (checksums are not fixed up: neither synlab,
tshark nor p0f check them by default), so every copy is a new connection
attempt with the same attributes as the original.
"""
import struct
import sys


def main():
    src, dst, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = open(src, "rb").read()
    assert data[:4] == b"\xd4\xc3\xb2\xa1", "little-endian microsecond pcap expected"
    header = data[:24]
    linktype = struct.unpack_from("<I", header, 20)[0]
    assert linktype == 1, "Ethernet capture expected"
    recs, off = [], 24
    while off + 16 <= len(data):
        ts, us, cap, orig = struct.unpack_from("<IIII", data, off)
        recs.append((ts, us, orig, bytearray(data[off + 16: off + 16 + cap])))
        off += 16 + cap
    # Where the TCP ports sit, per record (IPv4 over Ethernet, maybe VLAN-less).
    ports = []
    client_port = None
    for _, _, _, frame in recs:
        ihl = (frame[14] & 0x0F) * 4
        t = 14 + ihl
        sport, dport = struct.unpack_from(">HH", frame, t)
        flags = frame[t + 13]
        if client_port is None and flags & 0x12 == 0x02:
            client_port = sport
        ports.append(t)
    out = open(dst, "wb")
    out.write(header)
    written, copy = 0, 0
    while written < total:
        new_port = 1024 + copy % 64000
        shift = copy // 64000  # a new server port block when client ports wrap
        for (ts, us, orig, frame), t in zip(recs, ports):
            f = bytearray(frame)
            sport, dport = struct.unpack_from(">HH", f, t)
            if sport == client_port:
                struct.pack_into(">HH", f, t, new_port, dport + shift)
            elif dport == client_port:
                struct.pack_into(">HH", f, t, sport + shift, new_port)
            out.write(struct.pack("<IIII", ts + copy, us, len(f), orig))
            out.write(f)
            written += 1
            if written >= total:
                break
        copy += 1
    out.close()
    print(f"{dst}: {written} packets, {copy} copies of {len(recs)}-packet {src}")


if __name__ == "__main__":
    main()
