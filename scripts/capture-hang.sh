#!/usr/bin/env bash
# Make captures/hang.pcap: a download that hangs, as the Docker Hub pulls
# did in 2020. The handshake succeeds, but a middlebox drops every large
# packet from the server, so the body never arrives; the client gives up
# after 3 s (curl --max-time) and closes. Captured on the client's side.
#
#   sudo scripts/capture-hang.sh
#
# Builds its own lab (scripts/lab.sh, prefix slhang, index 240) and removes
# it afterwards, also on failure. Traffic stays inside those namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "capture-hang.sh: needs root (network namespaces)" >&2; exit 1; }

export LAB_PREFIX=slhang LAB_INDEX=240
out=captures/hang.pcap
tmp=$(mktemp -d)
cleanup() {
    [ -n "${tcpdump_pid:-}" ] && kill "$tcpdump_pid" 2>/dev/null || true
    scripts/lab.sh down >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

scripts/lab.sh up
eval "$(scripts/lab.sh env)"
# Full-size data segments from the server are dropped; the handshake and
# the HTTP headers (small) pass.
scripts/lab.sh rule "ip saddr $LAB_SRV_IP tcp sport $LAB_OPEN_PORT meta length > 1000 drop"

ip netns exec "$LAB_C1_NS" tcpdump -i "$LAB_C1_IF" -U --immediate-mode -Z root -w "$tmp/hang.pcap" \
    "tcp port $LAB_OPEN_PORT and host $LAB_SRV_IP" 2>"$tmp/tcpdump.log" &
tcpdump_pid=$!
sleep 1
ip netns exec "$LAB_C1_NS" curl -s -o /dev/null --max-time 3 --local-port 40100 \
    "http://$LAB_SRV_IP:$LAB_OPEN_PORT/data.bin" || echo "curl gave up, as expected (exit $?)"
sleep 1.2
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
tcpdump_pid=
cp "$tmp/hang.pcap" "$out"
echo "wrote $out"
tcpdump -nn -r "$out" 2>/dev/null | head -20
