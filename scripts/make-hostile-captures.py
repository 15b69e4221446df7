#!/usr/bin/env python3
"""Make tests/hostile/: captures that lie, for synlab's robustness tests.

Every file is built from scratch, deterministically (fixed addresses, ports
and timestamps), so the expected result of each is known exactly and
tests/hostile.rs asserts it: the good handshakes around the bad packet are
still found, the bad packet is skipped with a warning or the file ends with
a clear error, and nothing panics, hangs or takes much memory. Run from the
repository root:

    python3 scripts/make-hostile-captures.py

Addresses are from the benchmarking range 198.18.0.0/15 and the ULA prefix
fd00:5ab::/48; no packet here was ever on a network.
"""
import struct
from pathlib import Path

OUT = Path("tests/hostile")
T0 = 1_700_000_000  # seconds since the epoch of every file's first packet
CLIENT4, SERVER4 = bytes([198, 18, 0, 2]), bytes([198, 18, 0, 1])
CLIENT6 = bytes.fromhex("fd0005ab000000000000000000000002")
SERVER6 = bytes.fromhex("fd0005ab000000000000000000000001")
MSS_WS = bytes([2, 4, 0x05, 0xB4, 1, 3, 3, 7])  # mss 1460, nop, wscale 7


def tcp(sport, dport, flags, seq=1000, ack=0, options=MSS_WS, offset=None):
    """A TCP header (no payload); `offset` overrides the data offset nibble."""
    options = options + bytes(-len(options) % 4)
    words = offset if offset is not None else 5 + len(options) // 4
    return (
        struct.pack(">HHIIBBHHH", sport, dport, seq, ack, words << 4, flags, 64240, 0, 0)
        + options
    )


def ipv4(payload, proto=6, ihl=5, total=None, ttl=64):
    options = bytes(max(0, ihl - 5) * 4)
    length = total if total is not None else 20 + len(options) + len(payload)
    head = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, length, 1, 0x4000, ttl, proto, 0,
                       CLIENT4, SERVER4)
    return head + options + payload


def ipv4_reply(payload):
    """From the server to the client."""
    head = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 2, 0x4000, 64, 6, 0,
                       SERVER4, CLIENT4)
    return head + payload


def ipv6(payload, next_header=6, exts=b"", plen=None, reply=False):
    src, dst = (SERVER6, CLIENT6) if reply else (CLIENT6, SERVER6)
    length = plen if plen is not None else len(exts) + len(payload)
    return struct.pack(">IHBB", 0x60000000, length, next_header, 64) + src + dst + exts + payload


def ext(next_header, length_units=0):
    """An 8-byte (or longer) IPv6 extension header padded with PadN."""
    body = bytes([next_header, length_units, 1, 4 + 8 * length_units]) + bytes(4 + 8 * length_units)
    return body


def ether(ip, tags=(), ether_type=0x0800):
    head = bytes.fromhex("025ab0000001025ab0000002")
    for tpid, vid in tags:
        head += struct.pack(">HH", tpid, vid)
    return head + struct.pack(">H", ether_type) + ip


def handshake4(port):
    """A SYN and its SYN-ACK, as Ethernet frames."""
    syn = ether(ipv4(tcp(port, 80, 0x02)))
    syn_ack = ether(ipv4_reply(tcp(80, port, 0x12, seq=5000, ack=1001)))
    return [syn, syn_ack]


def handshake_raw(port):
    """A SYN and its SYN-ACK as raw IPv4 (LINKTYPE_RAW)."""
    return [ipv4(tcp(port, 80, 0x02)), ipv4_reply(tcp(80, port, 0x12, seq=5000, ack=1001))]


# ---- pcap ----------------------------------------------------------------

def pcap(frames, linktype=1, snaplen=65535, endian="<", nanos=False, records=None):
    """frames: bytes, or (bytes, caplen, orig_len) to lie about lengths."""
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)
    for i, f in enumerate(frames):
        data, caplen, orig = f if isinstance(f, tuple) else (f, len(f), len(f))
        out += struct.pack(endian + "IIII", T0 + i, 0, caplen, orig) + data
    return out


# ---- pcapng --------------------------------------------------------------

def block(block_type, body, e="<", length=None):
    body = body + bytes(-len(body) % 4)
    n = length if length is not None else 12 + len(body)
    return struct.pack(e + "II", block_type, n) + body + struct.pack(e + "I", n)


def shb(e="<"):
    return block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), e)


def option(code, value, e="<"):
    return struct.pack(e + "HH", code, len(value)) + value + bytes(-len(value) % 4)


def idb(linktype, e="<", tsresol=None, options=b""):
    opts = options
    if tsresol is not None:
        opts += option(9, bytes([tsresol]), e)
    if opts:
        opts += option(0, b"", e)
    return block(1, struct.pack(e + "HHI", linktype, 0, 0) + opts, e)


def epb(iface, units, data, e="<", caplen=None, orig=None):
    caplen = len(data) if caplen is None else caplen
    orig = len(data) if orig is None else orig
    head = struct.pack(e + "IIIII", iface, units >> 32, units & 0xFFFFFFFF, caplen, orig)
    return block(6, head + data, e)


def us(seconds):
    return int(seconds * 1_000_000)


def epbs(iface, frames, start, e="<", per_unit=1_000_000, step=1):
    """One EPB per frame, `step` seconds apart from `start`, in units of 1/per_unit s."""
    return b"".join(
        epb(iface, int((start + i * step) * per_unit), f, e) for i, f in enumerate(frames)
    )


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    files = {}
    good_a, good_b = handshake4(1000), handshake4(1001)

    def around(*bad):
        """A good handshake, the bad frames, another good handshake."""
        return good_a + list(bad) + good_b

    # -- IP header lies (each frame is captured whole: the packet lies, not the capture)
    files["ihl-below-5.pcap"] = pcap(around(ether(ipv4(tcp(2000, 80, 2), ihl=4))))
    files["ihl-past-total-length.pcap"] = pcap(
        around(ether(ipv4(tcp(2000, 80, 2), ihl=15, total=40))))
    files["total-length-below-header.pcap"] = pcap(
        around(ether(ipv4(tcp(2000, 80, 2), total=20))))
    # The IP header claims 1500 bytes; 48 were sent. Read as far as it goes.
    files["total-length-over-packet.pcap"] = pcap(
        around(ether(ipv4(tcp(2000, 80, 2), total=1500))))
    files["ip-version-7.pcap"] = pcap(
        around(ether(b"\x75" + ipv4(tcp(2000, 80, 2))[1:])))

    # -- TCP header lies
    files["tcp-offset-past-end.pcap"] = pcap(around(ether(ipv4(tcp(2000, 80, 2, offset=15)))))
    files["tcp-offset-below-5.pcap"] = pcap(around(ether(ipv4(tcp(2000, 80, 2, offset=3)))))
    files["tcp-header-cut.pcap"] = pcap(around(ether(ipv4(tcp(2000, 80, 2))[:30])))
    # Options with a length of 0, of 1, and past the end of the header: the
    # SYN is kept (p0f's "bad" quirk), as tshark keeps it.
    files["tcp-option-lengths.pcap"] = pcap(around(
        ether(ipv4(tcp(2000, 80, 2, options=bytes([2, 0, 5, 0xB4])))),
        ether(ipv4(tcp(2001, 80, 2, options=bytes([2, 1, 5, 0xB4])))),
        ether(ipv4(tcp(2002, 80, 2, options=bytes([1, 1, 8, 40, 0, 0])))),
    ))

    # -- IPv6 extension headers
    syn6 = tcp(3000, 80, 2)
    files["ipv6-hop-by-hop-twice.pcap"] = pcap(
        around(ether(ipv6(syn6, 0, ext(0) + ext(6)), ether_type=0x86DD)))
    # The 88-byte file: one raw-IP packet ending after the first header.
    files["ipv6-hop-by-hop-twice-88.pcap"] = pcap([ipv6(b"", 0, ext(0), plen=8)], linktype=101)
    files["ipv6-ext-chain.pcap"] = pcap(around(ether(
        ipv6(syn6, 0, ext(60) + ext(43) + ext(60, 2) + ext(6)), ether_type=0x86DD)))
    # 200 destination-options headers in a row, then TCP: long, but finite.
    files["ipv6-ext-long-chain.pcap"] = pcap(around(ether(
        ipv6(syn6, 60, ext(60) * 199 + ext(6)), ether_type=0x86DD)))
    # A routing header pointing back to hop-by-hop: a loop etherparse refuses.
    files["ipv6-ext-loop.pcap"] = pcap(around(ether(
        ipv6(syn6, 0, ext(43) + ext(0) + ext(43)), ether_type=0x86DD)))
    # An extension header whose length runs past the packet.
    files["ipv6-ext-past-end.pcap"] = pcap(around(ether(
        ipv6(b"", 60, ext(6)[:1] + bytes([200]) + bytes(6)), ether_type=0x86DD)))

    # -- VLAN stacks: 8 tags are read, 17 are too many.
    files["vlan-8-tags.pcap"] = pcap(
        [ether(ipv4(tcp(4000, 80, 2)), tags=[(0x88A8, 1)] + [(0x8100, 2)] * 7)]
        + [ether(ipv4_reply(tcp(80, 4000, 0x12, seq=5000, ack=1001)),
                 tags=[(0x88A8, 1)] + [(0x8100, 2)] * 7)])
    files["vlan-17-tags.pcap"] = pcap(
        around(ether(ipv4(tcp(4000, 80, 2)), tags=[(0x8100, 2)] * 17)))

    # -- pcap record lies
    syn = ether(ipv4(tcp(2000, 80, 2)))
    files["caplen-over-origlen.pcap"] = pcap(around((syn, len(syn), 40)))
    files["caplen-over-snaplen.pcap"] = pcap(around(syn), snaplen=64)
    files["snaplen-ffffffff.pcap"] = pcap(around(), snaplen=0xFFFFFFFF)
    files["record-claims-2gib.pcap"] = pcap(
        around((b"", 0x7FFFFFFF, 0x7FFFFFFF)), snaplen=0xFFFFFFFF)
    # LINKTYPE_ETHERNET with "FCS present, 4 bytes" in the upper bits.
    fcs = [f + b"\xde\xad\xbe\xef" for f in around()]
    files["fcs-bits-in-linktype.pcap"] = pcap(fcs, linktype=0x24000001)
    files["big-endian-nanosecond.pcap"] = pcap(around(), endian=">", nanos=True)

    # -- pcapng
    e = "<"
    hs0 = handshake4(5000)
    raw = handshake_raw(5001)
    # Unknown, local-use, name-resolution and statistics blocks between
    # packets (not custom blocks 0xBAD/0x40000BAD: tshark numbers those as frames).
    files["unknown-blocks.pcapng"] = (
        shb() + idb(1)
        + block(0x99, b"unknown block body")
        + epbs(0, hs0[:1], T0)
        + block(0x80000001, b"local use")
        + block(4, option(0, b""))  # empty name resolution block
        + block(5, struct.pack("<III", 0, 0, 0))  # interface statistics
        + epbs(0, hs0[1:], T0 + 1)
    )
    # Three interfaces: Ethernet, raw IP, and one synlab cannot read (147).
    files["interfaces-and-link-types.pcapng"] = (
        shb() + idb(1) + idb(101) + idb(147)
        + epbs(0, hs0[:1], T0) + epbs(2, [b"user link type"] * 2, T0)
        + epbs(1, raw[:1], T0) + epbs(0, hs0[1:], T0 + 1) + epbs(1, raw[1:], T0 + 1)
    )
    # An interface described after packets of another were written.
    files["idb-after-epbs.pcapng"] = (
        shb() + idb(1) + epbs(0, hs0, T0) + idb(101) + epbs(1, raw, T0 + 2)
    )
    # Timestamp resolutions: microseconds (default), nanoseconds, milliseconds,
    # 2^-20 s; each SYN-ACK comes exactly 3 s after its SYN.
    files["timestamp-resolutions.pcapng"] = (
        shb() + idb(1) + idb(1, tsresol=9) + idb(1, tsresol=3) + idb(1, tsresol=0x80 | 20)
        + epbs(0, handshake4(6000), T0, step=3)
        + epbs(1, handshake4(6001), T0, per_unit=10**9, step=3)
        + epbs(2, handshake4(6002), T0, per_unit=1000, step=3)
        + epbs(3, handshake4(6003), T0, per_unit=2**20, step=3)
    )
    # A second section in the other byte order (its interfaces are its own).
    files["byte-order-change.pcapng"] = (
        shb("<") + idb(1, "<") + epbs(0, handshake4(7000), T0, "<")
        + shb(">") + idb(101, ">") + epbs(0, handshake_raw(7001), T0 + 5, ">")
    )
    # Simple packet blocks (no timestamp, interface 0) and the obsolete
    # packet block (16-bit interface id) carry packets too.
    spb = lambda data: block(3, struct.pack("<I", len(data)) + data)
    pb = lambda iface, units, data: block(2, struct.pack(
        "<HHIIII", iface, 0, units >> 32, units & 0xFFFFFFFF, len(data), len(data)) + data)
    files["simple-and-obsolete-packet-blocks.pcapng"] = (
        shb() + idb(1) + b"".join(spb(f) for f in handshake4(5004))
        + b"".join(pb(0, us(T0 + i), f) for i, f in enumerate(handshake4(5005)))
    )
    files["epb-unknown-interface.pcapng"] = (
        shb() + idb(1) + epbs(0, hs0, T0) + epbs(3, handshake4(5002), T0 + 2)
    )
    # A block declaring 4 GiB - 4 bytes (the sparse 4 GiB file is made by the test).
    files["block-claims-4gib.pcapng"] = (
        shb() + idb(1) + epbs(0, hs0, T0) + struct.pack("<II", 0x99, 0xFFFFFFFC) + bytes(64)
    )
    files["epb-caplen-past-block.pcapng"] = (
        shb() + idb(1) + epbs(0, hs0, T0)
        + epb(0, us(T0 + 2), handshake4(5003)[0], caplen=1000, orig=1000)
    )
    files["block-length-unaligned.pcapng"] = (
        shb() + idb(1) + epbs(0, hs0, T0) + struct.pack("<II", 0x99, 13) + bytes(8)
    )
    # An interface option whose length runs past its block: ignored, the
    # interface is kept with microsecond timestamps.
    bad_opt = struct.pack("<HH", 9, 400) + b"\x09\x00\x00\x00"
    files["idb-option-past-end.pcapng"] = (
        shb() + block(1, struct.pack("<HHI", 1, 0, 0) + bad_opt) + epbs(0, hs0, T0, step=3)
    )

    for name, data in sorted(files.items()):
        (OUT / name).write_bytes(data)


if __name__ == "__main__":
    main()
