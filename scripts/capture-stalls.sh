#!/usr/bin/env bash
# Make the captures that tell a hang from an idle connection (issue 9):
#
#   captures/idle-then-complete.pcap  a client that connects, stays idle
#       2.5 s, then sends its request and downloads all 256 KiB; then the
#       keep-alive connection idles 1.5 s after the complete response and
#       the client closes. Not a stall: nothing was outstanding while idle.
#   captures/hang-range-retry.pcap    a download that hangs after ~128 KB
#       (the middlebox drops the server's data once the connection carried
#       that much), curl gives up after 3 s, then retries from where it
#       stopped with `curl --range OFFSET-`, and the server answers 206.
#       The first flow is stalled; the retry is complete.
#   captures/stall-by-ttl.pcap        captured on the server's side: c1
#       (TTL 64) downloads 256 KiB; c2 (TTL 128) hangs after ~128 KB, as the
#       middlebox drops the server's data for connections whose SYN came
#       with TTL 127 (ct mark set on the SYN, ct bytes on the data). The
#       server sees its data unacknowledged and retransmits it: the stall is
#       told from TCP alone. `bisect --recorded` on it finds `ip.ttl`.
#
#   captures/incident.pcap            the guide's incident session (docs/GUIDE.md), scaled
#       down (256 KiB served, data dropped past 128 KB instead of 4 MiB and
#       1 MB): the middlebox marks connections whose SYN arrives with TTL
#       127; `synlab probe --exchange` runs the linux and windows-10
#       profiles twice each from c1 (linux completes, windows-10 stalls),
#       then curl asks for the rest with a Range request and gets 206, as
#       the incident's clients did. Packets cut at 320 bytes (headers and
#       the HTTP heads kept; synlab counts bytes from the IP lengths).
#       Needs target/release/synlab (or SYNLAB=path).
#
#   sudo scripts/capture-stalls.sh [NAME...]    (default: all four)
#
# Builds its own lab (scripts/lab.sh, prefix slstcap, index 241) and removes
# it afterwards, also on failure. A small HTTP/1.1 server with Range support
# runs in the lab's server namespace on port 8088 (Python's http.server has
# neither keep-alive by default nor Range). Traffic stays inside the lab's
# namespaces; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "capture-stalls.sh: needs root (network namespaces)" >&2; exit 1; }

export LAB_PREFIX=${LAB_PREFIX:-slstcap} LAB_INDEX=${LAB_INDEX:-241}
export C2_SYSCTLS='net.ipv4.ip_default_ttl=128'
wanted=${*:-idle-then-complete hang-range-retry stall-by-ttl incident}
want() { [[ " $wanted " == *" $1 "* ]]; }
readonly PORT=8088 SIZE=262144 HANG_AFTER=131072
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    scripts/lab.sh down >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

scripts/lab.sh up
eval "$(scripts/lab.sh env)"

# The served body: byte i is i mod 251, as lab.sh's data.bin.
python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(int(sys.argv[1]))))' \
    "$SIZE" >"$tmp/big.bin"
cat >"$tmp/rangesrv.py" <<'EOF'
# HTTP/1.1 GET with keep-alive and a single "Range: bytes=FIRST-[LAST]".
import http.server, re, socket, sys
path, port = sys.argv[1], int(sys.argv[2])
body = open(path, "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        first, last, status = 0, len(body) - 1, 200
        if m:
            first = int(m.group(1))
            last = min(int(m.group(2)) if m.group(2) else last, len(body) - 1)
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(last - first + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{len(body)}")
        self.end_headers()
        self.wfile.write(body[first:last + 1])
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET
    daemon_threads = True
S(("0.0.0.0", port), H).serve_forever()
EOF
ip netns exec "$LAB_SRV_NS" python3 "$tmp/rangesrv.py" "$tmp/big.bin" "$PORT" &
pids+=($!)
for _ in $(seq 50); do
    ip netns exec "$LAB_C1_NS" curl -s -o /dev/null --max-time 1 "http://$LAB_SRV_IP:$PORT/" && break
    sleep 0.1
done

# capture NAME [NS IF [SNAPLEN]]: start tcpdump (on c1 by default) for the
# server's port into $tmp/NAME.pcap.
capture() {
    ip netns exec "${2:-$LAB_C1_NS}" tcpdump -i "${3:-$LAB_C1_IF}" -U --immediate-mode -Z root -s "${4:-0}" \
        -w "$tmp/$1.pcap" "tcp port $PORT and host $LAB_SRV_IP" 2>"$tmp/$1.log" &
    tcpdump_pid=$!
    pids+=("$tcpdump_pid")
    sleep 1
}
finish() {
    sleep 0.5
    kill -INT "$tcpdump_pid"
    wait "$tcpdump_pid" || true
    cp "$tmp/$1.pcap" "captures/$1.pcap"
    echo "wrote captures/$1.pcap ($(tcpdump -nn -r "captures/$1.pcap" 2>/dev/null | wc -l) packets)"
}

ip netns exec "$LAB_MB_NS" sysctl -qw net.netfilter.nf_conntrack_acct=1

# 1. Idle 2.5 s, then the whole download; then idle 1.5 s on keep-alive.
if want idle-then-complete; then
capture idle-then-complete
ip netns exec "$LAB_C1_NS" timeout 20 python3 - "$LAB_SRV_IP" "$PORT" "$SIZE" <<'EOF'
import socket, sys, time
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket()
s.bind(("0.0.0.0", 40300))
s.settimeout(10)
s.connect((host, port))
time.sleep(2.5)
s.sendall(f"GET /big.bin HTTP/1.1\r\nHost: {host}\r\nUser-Agent: synlab-capture/1\r\n\r\n".encode())
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(65536)
head, body = data.split(b"\r\n\r\n", 1)
while len(body) < size:
    chunk = s.recv(65536)
    if not chunk:
        sys.exit("server closed early")
    body += chunk
print(f"idle client: {head.splitlines()[0].decode()}, {len(body)} body bytes")
time.sleep(1.5)
s.close()
EOF
finish idle-then-complete
fi

# 2. A hang after HANG_AFTER bytes of the first connection, then a Range retry.
if want hang-range-retry; then
scripts/lab.sh rule "ip saddr $LAB_SRV_IP tcp sport $PORT tcp dport 40301 ct reply bytes > $HANG_AFTER drop"
capture hang-range-retry
ip netns exec "$LAB_C1_NS" curl -s -o "$tmp/part" --max-time 3 --local-port 40301 \
    -A synlab-capture/1 "http://$LAB_SRV_IP:$PORT/big.bin" || echo "curl gave up, as expected (exit $?)"
got=$(stat -c %s "$tmp/part")
echo "first attempt got $got bytes; retrying with --range $got-"
ip netns exec "$LAB_C1_NS" curl -s -o "$tmp/rest" --max-time 5 --local-port 40302 \
    -A synlab-capture/1 --range "$got-" -w 'retry: HTTP %{http_code}, %{size_download} bytes\n' \
    "http://$LAB_SRV_IP:$PORT/big.bin"
cat "$tmp/part" "$tmp/rest" | cmp - "$tmp/big.bin" && echo "the retry completed the file"
finish hang-range-retry
scripts/lab.sh flush
fi

# 3. Two stacks, one hangs: captured on the server's side.
if want stall-by-ttl; then
scripts/lab.sh rule "ip ttl 127 tcp flags syn ct mark set 127"
scripts/lab.sh rule "ip saddr $LAB_SRV_IP tcp sport $PORT ct mark 127 ct reply bytes > $HANG_AFTER drop"
capture stall-by-ttl "$LAB_SRV_NS" "$LAB_SRV_IF"
ip netns exec "$LAB_C1_NS" curl -s -o /dev/null --max-time 5 --local-port 40311 \
    -A synlab-capture/1 -w 'c1 (TTL 64): HTTP %{http_code}, %{size_download} bytes\n' \
    "http://$LAB_SRV_IP:$PORT/big.bin"
ip netns exec "$LAB_C2_NS" curl -s -o /dev/null --max-time 3 --local-port 40312 \
    -A synlab-capture/1 -w 'c2 (TTL 128): HTTP %{http_code}, %{size_download} bytes\n' \
    "http://$LAB_SRV_IP:$PORT/big.bin" || echo "c2's curl gave up, as expected (exit $?)"
finish stall-by-ttl
fi

# 4. The incident as a lab session (docs/GUIDE.md, "Past the handshake"), scaled down.
if want incident; then
synlab=${SYNLAB:-target/release/synlab}
[ -x "$synlab" ] || { echo "capture-stalls.sh: build synlab first (cargo build --release)" >&2; exit 1; }
scripts/lab.sh flush
scripts/lab.sh rule "tcp flags & (syn | ack) == syn ip ttl 127 ct mark set 1"
scripts/lab.sh rule "ct mark 1 ct direction reply ct reply bytes > $HANG_AFTER drop"
capture incident "$LAB_C1_NS" "$LAB_C1_IF" 320
for profile in linux windows-10; do
    ip netns exec "$LAB_C1_NS" timeout 30 "$synlab" probe --profile "$profile" \
        --target "$LAB_SRV_IP:$PORT" --exchange http:/big.bin --count 2 --stall-timeout 1 \
        --json >"$tmp/$profile.json" || true
done
# The client comes back for the rest of the body, from where the first
# stalled exchange stopped (its offset counts the response head, as long as
# a complete exchange's bytes beyond its Content-Length).
offset=$(python3 - "$tmp/linux.json" "$tmp/windows-10.json" <<'PY'
import json, sys
probes = lambda f: json.load(open(f))["probes"]
for f in sys.argv[1:]:
    for p in probes(f):
        x = p.get("exchange") or {}
        print(f"{f.rsplit('/', 1)[-1]}: {p['outcome']}, {x.get('bytes')} bytes", file=sys.stderr)
done = next(p["exchange"] for p in probes(sys.argv[1]) if p["outcome"] == "complete")
stalled = next(p["exchange"] for p in probes(sys.argv[2]) if p["outcome"] == "stalled")
print(stalled["stalled_at"] - (done["bytes"] - done["content_length"]))
PY
)
echo "retrying with --range $offset-"
ip netns exec "$LAB_C1_NS" curl -s -o /dev/null --max-time 5 -A synlab-capture/1 --range "$offset-" \
    -w 'retry: HTTP %{http_code}, %{size_download} bytes\n' "http://$LAB_SRV_IP:$PORT/big.bin"
finish incident
fi
