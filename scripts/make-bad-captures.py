#!/usr/bin/env python3
"""Make captures/bad/: broken and odd capture files for synlab's error tests.

Each file is derived from a good capture (default captures/linux-default.pcap
and captures/linux-default.pcapng) by a documented, deterministic edit, so the
tests can assert the exact error synlab prints. Run from the repository root:

    python3 scripts/make-bad-captures.py
"""
import random
import struct
import sys
from pathlib import Path

BASE = Path(sys.argv[1] if len(sys.argv) > 1 else "captures/linux-default.pcap")
BASE_NG = Path(sys.argv[2] if len(sys.argv) > 2 else "captures/linux-default.pcapng")
OUT = Path("captures/bad")


def records(data):
    """(offset, caplen) of each record of a little-endian pcap."""
    off, out = 24, []
    while off + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, off + 8)[0]
        out.append((off, caplen))
        off += 16 + caplen
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    good = BASE.read_bytes()
    assert good[:4] == b"\xd4\xc3\xb2\xa1", "base must be a little-endian microsecond pcap"
    recs = records(good)
    assert len(recs) >= 6, "base needs at least 6 packets"

    (OUT / "empty.pcap").write_bytes(b"")
    (OUT / "truncated-header.pcap").write_bytes(good[:10])
    (OUT / "bad-magic.pcap").write_bytes(b"\xef\xbe\xad\xde" + good[4:])
    rng = random.Random(7)
    garbage = bytes(rng.randrange(256) for _ in range(4096))
    (OUT / "garbage.bin").write_bytes(b"\x13\x37\xc0\xde" + garbage)

    # The 5th record's data is cut: the file ends inside it.
    off5, cap5 = recs[4]
    (OUT / "record-longer-than-file.pcap").write_bytes(good[: off5 + 16 + cap5 // 2])

    # The 4th record claims more bytes than the snapshot length allows.
    bad = bytearray(good)
    off4, _ = recs[3]
    struct.pack_into("<I", bad, off4 + 8, 300000)
    (OUT / "caplen-over-snaplen.pcap").write_bytes(bytes(bad))

    # A link type synlab does not read (147, LINKTYPE_USER0).
    bad = bytearray(good)
    struct.pack_into("<I", bad, 20, 147)
    (OUT / "unsupported-linktype.pcap").write_bytes(bytes(bad))

    # Valid but odd: every packet cut to 64 bytes by a snaplen of 64, as
    # `tcpdump -s 64` writes them (SYN options partly missing).
    cut = bytearray(good[:24])
    struct.pack_into("<I", cut, 16, 64)
    for off, caplen in recs:
        ts_sec, ts_usec, _, orig = struct.unpack_from("<IIII", good, off)
        keep = min(caplen, 64)
        cut += struct.pack("<IIII", ts_sec, ts_usec, keep, orig)
        cut += good[off + 16: off + 16 + keep]
    (OUT.parent / "snaplen-64.pcap").write_bytes(bytes(cut))

    # pcapng cut in the middle of its 6th block.
    ng = BASE_NG.read_bytes()
    off, blocks = 0, []
    while off + 8 <= len(ng):
        length = struct.unpack_from("<I", ng, off + 4)[0]
        blocks.append((off, length))
        off += length
    boff, blen = blocks[5]
    (OUT / "truncated.pcapng").write_bytes(ng[: boff + blen // 2])


if __name__ == "__main__":
    main()
