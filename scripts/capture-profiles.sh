#!/usr/bin/env bash
# capture-profiles.sh - regenerate synlab's reference captures (captures/*.pcap, *.pcapng).
#
# Everything happens inside throwaway network namespaces named slcap-*; packets are only
# ever sent between those namespaces (198.18.0.0/15 and fd00:5ab::/48 live only there).
#
#   slcap-def  (default TCP sysctls)      veth0 198.18.0.2  fd00:5ab::2 --+
#   slcap-tun  (timestamps/SACK/wscale    veth0 198.18.0.3  fd00:5ab::3 --+-- br0 in slcap-srv
#               off, TTL 128, ECN on)                                     |   198.18.0.1
#   slcap-ecn  (ECN on, fallback off)     veth0 198.18.0.4  fd00:5ab::4 --+   fd00:5ab::1
#
#   slcap-def vl100 198.18.100.2 -- c-acc [slcap-sw: 802.1Q relay, trunk0==trunk1] s-acc -- vl100 198.18.100.1 slcap-srv
#
# slcap-srv runs `python3 -m http.server --bind ::` on 8080 (IPv4 + IPv6), 8081 is closed,
# nftables rejects 8082 with ICMP admin-prohibited and silently drops 8083.
#
# Usage: sudo scripts/capture-profiles.sh        (writes captures/ next to scripts/)
# Env:   SLCAP_OUT=DIR  write the captures and README.md to DIR instead of captures/
#
# The script is idempotent: it removes leftovers of an earlier run (only the slcap-*
# namespaces it names below), writes everything to a scratch directory first and copies the
# results into captures/ only after every capture passed its checks.
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# constants
# ---------------------------------------------------------------------------------------------
readonly NS_SRV=slcap-srv NS_DEF=slcap-def NS_TUN=slcap-tun NS_ECN=slcap-ecn NS_SW=slcap-sw
readonly ALL_NS=("$NS_SRV" "$NS_DEF" "$NS_TUN" "$NS_ECN" "$NS_SW")

readonly SRV4=198.18.0.1 SRV6=fd00:5ab::1 PREFIX4=24 PREFIX6=64
readonly VLAN_ID=100 VLAN_SRV4=198.18.100.1 VLAN_CLI4=198.18.100.2
readonly PORT_HTTP=8080 PORT_CLOSED=8081 PORT_ICMP=8082 PORT_DROP=8083
readonly BLOB=blob.bin BLOB_SIZE=16384 SMALL=small.txt
readonly CURL_UA=synlab-capture/1
readonly MAX_FILE_BYTES=100000

# The "tuned" profile (second OS in `synlab diff linux-default.pcap linux-tuned.pcap`).
readonly TUNED_SYSCTLS=(
    net.ipv4.tcp_timestamps=0
    net.ipv4.tcp_sack=0
    net.ipv4.tcp_window_scaling=0
    net.ipv4.ip_default_ttl=128
    net.ipv4.tcp_ecn=1
)
readonly ECN_SYSCTLS=(
    net.ipv4.tcp_ecn=1
    net.ipv4.tcp_ecn_fallback=0
)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly OUT_DIR=${SLCAP_OUT:-$SCRIPT_DIR/../captures}

WORK=""          # scratch directory (mktemp)
BG_PIDS=()       # background processes this script started (http server, relay, captures)
PYTHON=""
VLAN_KERNEL=""
SYN_LINEAR=""
FACTS=()         # things learned about this machine, printed at the end and put in README.md

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
log() { printf '[capture-profiles] %s\n' "$*" >&2; }
die() { printf '[capture-profiles] ERROR: %s\n' "$*" >&2; exit 1; }
# run CMD...: print the command, then run it
run() { printf '[capture-profiles] + %s\n' "$*" >&2; "$@"; }
# nsrun NS CMD...: run a command inside a namespace (printed)
nsrun() { local ns=$1; shift; run ip netns exec "$ns" "$@"; }
fact() { FACTS+=("$*"); log "fact: $*"; }

# (not `ip netns list | grep -q`: that races with pipefail and prints errors while other
# namespaces on the machine come and go)
ns_exists() { [[ -e /run/netns/$1 ]]; }

preflight() {
    [[ ${EUID:-$(id -u)} -eq 0 ]] || die "must run as root (network namespaces, veth, nftables): sudo $0"
    local tool missing=()
    for tool in ip ethtool nft tcpdump dumpcap tshark capinfos editcap mergecap curl timeout awk; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3
    elif command -v python3 >/dev/null 2>&1; then PYTHON=$(command -v python3)
    else missing+=(python3); fi
    ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (Debian: apt-get install -y iproute2 ethtool nftables tcpdump tshark curl python3)"
    ip netns list >/dev/null 2>&1 || die "'ip netns' does not work here (no network-namespace support?)"
}

# ---------------------------------------------------------------------------------------------
# teardown: stop what we started, delete our namespaces (by name), remove the scratch dir
# ---------------------------------------------------------------------------------------------
stop_pid() {   # stop_pid PID [SIGNAL]: signal a process we started and wait (bounded) for it
    local pid=$1 sig=${2:-TERM} i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
}

teardown() {
    local pid ns p
    for pid in "${BG_PIDS[@]}"; do stop_pid "$pid" TERM; done
    BG_PIDS=()
    for ns in "${ALL_NS[@]}"; do
        ns_exists "$ns" || continue
        # leftovers of an aborted earlier run: processes still living in *our* namespace
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
        log "deleting namespace $ns"
        ip netns del "$ns" 2>/dev/null || log "warning: could not delete namespace $ns"
    done
    if [[ -n $WORK && -d $WORK ]]; then rm -rf -- "$WORK"; fi
    WORK=""
}

on_exit() {
    local rc=$?
    trap - EXIT
    if ((rc != 0)) && [[ -n $WORK && -d $WORK/logs ]]; then
        local l
        for l in "$WORK"/logs/*.log; do
            [[ -e $l ]] || continue
            log "--- last lines of $(basename "$l"):"
            tail -n 5 "$l" >&2 || true
        done
    fi
    teardown
    if ((rc != 0)); then log "FAILED (exit $rc); namespaces cleaned up, captures/ left unchanged"; fi
    exit "$rc"
}

# ---------------------------------------------------------------------------------------------
# topology
# ---------------------------------------------------------------------------------------------
# setup_ns NS [SYSCTL=VALUE...]: create a namespace, bring lo up, apply sysctls
setup_ns() {
    local ns=$1; shift
    run ip netns add "$ns"
    run ip -n "$ns" link set lo up
    # addresses are usable at once (no duplicate-address detection), no router solicitations
    nsrun "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.default.router_solicitations=0
    if (($# > 0)); then nsrun "$ns" sysctl -w "$@" >/dev/null; fi
}

# no_offload NS IFACE: segment sizes and checksums in captures are what goes on the wire
no_offload() {
    nsrun "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null
}

# add_client NS IDX: veth0 in NS (198.18.0.IDX, fd00:5ab::IDX), its peer p-NAME on br0 in slcap-srv
add_client() {
    local ns=$1 idx=$2 port="p-${1#slcap-}"
    run ip link add veth0 netns "$ns" address "02:5a:b0:00:00:0$idx" type veth \
        peer name "$port" netns "$NS_SRV" address "02:5a:b0:00:01:0$idx"
    no_offload "$ns" veth0
    no_offload "$NS_SRV" "$port"
    run ip -n "$NS_SRV" link set "$port" master br0 up
    run ip -n "$ns" addr add "198.18.0.$idx/$PREFIX4" dev veth0
    run ip -n "$ns" addr add "fd00:5ab::$idx/$PREFIX6" dev veth0 nodad
    run ip -n "$ns" link set veth0 up
}

write_nft_rules() {
    cat >"$WORK/slcap.nft" <<EOF
table inet slcap
delete table inet slcap
table inet slcap {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp dport $PORT_ICMP reject with icmpx type admin-prohibited
        tcp dport $PORT_DROP drop
    }
}
EOF
}

setup_topology() {
    log "== topology"
    setup_ns "$NS_SRV"
    setup_ns "$NS_DEF"
    setup_ns "$NS_TUN" "${TUNED_SYSCTLS[@]}"
    setup_ns "$NS_ECN" "${ECN_SYSCTLS[@]}"

    run ip -n "$NS_SRV" link add br0 address 02:5a:b0:00:00:01 type bridge \
        stp_state 0 forward_delay 0 mcast_snooping 0
    nsrun "$NS_SRV" ethtool -K br0 tso off gso off >/dev/null
    run ip -n "$NS_SRV" addr add "$SRV4/$PREFIX4" dev br0
    run ip -n "$NS_SRV" addr add "$SRV6/$PREFIX6" dev br0 nodad
    run ip -n "$NS_SRV" link set br0 up

    add_client "$NS_DEF" 2
    add_client "$NS_TUN" 3
    add_client "$NS_ECN" 4

    write_nft_rules
    nsrun "$NS_SRV" nft -f "$WORK/slcap.nft"

    setup_vlan_path

    SYN_LINEAR=$(ip netns exec "$NS_DEF" sysctl -n net.ipv4.tcp_syn_linear_timeouts 2>/dev/null || echo "absent")
    fact "net.ipv4.tcp_syn_linear_timeouts=$SYN_LINEAR in a fresh namespace (SYN retransmission spacing in no-reply.pcap)"
    # show that the per-namespace sysctls really differ
    local ns
    for ns in "$NS_DEF" "$NS_TUN" "$NS_ECN"; do
        log "$ns: $(ip netns exec "$ns" sysctl -n net.ipv4.tcp_timestamps net.ipv4.tcp_sack \
            net.ipv4.tcp_window_scaling net.ipv4.ip_default_ttl net.ipv4.tcp_ecn \
            net.ipv4.tcp_ecn_fallback | tr '\n' ' ')(timestamps sack wscale ttl ecn ecn_fallback)"
    done
}

# ---------------------------------------------------------------------------------------------
# 802.1Q path.  This kernel family may lack CONFIG_VLAN_8021Q (`ip link add ... type vlan` ->
# "Unknown device type"), and has no bridge VLAN filtering / act_vlan either.  So the tag is
# pushed and popped by a tiny AF_PACKET relay in its own namespace (a two-port "switch" with a
# trunk link): both TCP endpoints are ordinary kernel stacks and the frames on the trunk veth
# carry a real 802.1Q header.  We capture on the trunk (the tagged parent link).
# ---------------------------------------------------------------------------------------------
write_vlan_relay() {
    cat >"$WORK/vlan_relay.py" <<'PYEOF'
"""802.1Q access<->trunk relay: acc_c <-> trunk_c ==veth== trunk_s <-> acc_s.

Frames received on an access port get a VLAN tag pushed and leave on that side's trunk end;
tagged frames received on a trunk end (the kernel moves the tag into PACKET_AUXDATA) are
forwarded untagged to that side's access port.  Runs for at most LIMIT seconds.
"""
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 1 << 4
AUX = struct.Struct("IIIHHHH")  # struct tpacket_auxdata

acc_c, trunk_c, trunk_s, acc_s, vid, limit = sys.argv[1:7]
vid, limit = int(vid), float(limit)
tag = struct.pack("!HH", 0x8100, vid)


def open_port(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((name, 0))
    return s


ports = {n: open_port(n) for n in (acc_c, trunk_c, trunk_s, acc_s)}
by_fd = {s.fileno(): n for n, s in ports.items()}
push = {acc_c: trunk_c, acc_s: trunk_s}   # access port -> trunk end to send on
pop = {trunk_c: acc_c, trunk_s: acc_s}    # trunk end -> access port to send on
counts = {"pushed": 0, "popped": 0, "ignored": 0}
print("relay ready", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def forward(name, sock):
    data, anc, _flags, addr = sock.recvmsg(65536, socket.CMSG_SPACE(AUX.size))
    if addr[2] == PACKET_OUTGOING or len(data) < 14:
        return  # our own transmissions, runts
    if name in push:
        ports[push[name]].send(data[:12] + tag + data[12:])
        counts["pushed"] += 1
        return
    tci = None
    for level, kind, cdata in anc:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(cdata) >= AUX.size:
            status, _l, _s, _m, _n, vtci, _tpid = AUX.unpack(cdata[:AUX.size])
            if status & TP_STATUS_VLAN_VALID:
                tci = vtci
    if tci is None and data[12:14] == b"\x81\x00":  # tag left in-band
        tci = struct.unpack("!H", data[14:16])[0]
        data = data[:12] + data[16:]
    if tci is None or tci & 0x0FFF != vid:
        counts["ignored"] += 1  # untagged or another VLAN: not ours
        return
    ports[pop[name]].send(data)
    counts["popped"] += 1


deadline = time.monotonic() + limit
try:
    while time.monotonic() < deadline:
        ready, _, _ = select.select(list(ports.values()), [], [], 0.5)
        for s in ready:
            forward(by_fd[s.fileno()], s)
finally:
    print("relay done", counts, flush=True)
PYEOF
}

setup_vlan_path() {
    log "== 802.1Q path (VLAN $VLAN_ID)"
    if ip netns exec "$NS_DEF" ip link add link veth0 name veth0.probe type vlan id 4000 2>/dev/null; then
        ip -n "$NS_DEF" link del veth0.probe
        VLAN_KERNEL="this kernel does support 802.1Q sub-interfaces, but the relay is used anyway so the file is made the same way everywhere"
        fact "kernel supports 802.1Q sub-interfaces (ip link add ... type vlan); the relay is used anyway so the capture is the same everywhere"
    else
        VLAN_KERNEL="the kernel that made this file has no 802.1Q sub-interfaces (CONFIG_VLAN_8021Q unset; \`ip link add link veth0 name veth0.100 type vlan id 100\` fails with \"Unknown device type\"), nor bridge VLAN filtering or a tc vlan action"
        fact "kernel has no 802.1Q sub-interfaces ('ip link add ... type vlan' fails, CONFIG_VLAN_8021Q unset): VLAN tags are pushed/popped by an AF_PACKET relay namespace"
    fi
    setup_ns "$NS_SW" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    run ip link add vl100 netns "$NS_DEF" address 02:5a:b0:00:64:02 type veth \
        peer name c-acc netns "$NS_SW"
    run ip link add vl100 netns "$NS_SRV" address 02:5a:b0:00:64:01 type veth \
        peer name s-acc netns "$NS_SW"
    run ip -n "$NS_SW" link add trunk0 address 02:5a:b0:00:64:10 type veth \
        peer name trunk1 address 02:5a:b0:00:64:11
    local ifc
    for ifc in c-acc s-acc trunk0 trunk1; do
        no_offload "$NS_SW" "$ifc"
        run ip -n "$NS_SW" link set "$ifc" up
    done
    nsrun "$NS_DEF" sysctl -qw net.ipv6.conf.vl100.disable_ipv6=1
    nsrun "$NS_SRV" sysctl -qw net.ipv6.conf.vl100.disable_ipv6=1
    no_offload "$NS_DEF" vl100
    no_offload "$NS_SRV" vl100
    run ip -n "$NS_DEF" addr add "$VLAN_CLI4/24" dev vl100
    run ip -n "$NS_SRV" addr add "$VLAN_SRV4/24" dev vl100
    run ip -n "$NS_DEF" link set vl100 up
    run ip -n "$NS_SRV" link set vl100 up

    write_vlan_relay
    log "starting 802.1Q relay in $NS_SW"
    ip netns exec "$NS_SW" timeout 600 "$PYTHON" -u "$WORK/vlan_relay.py" \
        c-acc trunk0 trunk1 s-acc "$VLAN_ID" 590 >"$WORK/logs/relay.log" 2>&1 &
    BG_PIDS+=("$!")
    wait_for_line "$WORK/logs/relay.log" "relay ready" "$!" || die "VLAN relay did not start: $(cat "$WORK/logs/relay.log")"
}

# ---------------------------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------------------------
make_content() {
    mkdir -p "$WORK/www"
    # 16 KiB of deterministic, printable bytes: 512 lines of exactly 32 bytes
    "$PYTHON" - "$WORK/www/$BLOB" "$BLOB_SIZE" <<'PYEOF'
import sys
path, size = sys.argv[1], int(sys.argv[2])
data = b"".join(b"%-24s%07d\n" % (b"synlab capture payload", i) for i in range(size // 32))
assert len(data) == size
open(path, "wb").write(data)
PYEOF
    printf 'hello from synlab\n' >"$WORK/www/$SMALL"
    touch -d @1700000000 "$WORK/www/$BLOB" "$WORK/www/$SMALL"   # stable Last-Modified header
}

start_http_server() {
    log "== HTTP server on [::]:$PORT_HTTP in $NS_SRV"
    make_content
    ip netns exec "$NS_SRV" timeout 600 "$PYTHON" -m http.server --bind :: \
        --directory "$WORK/www" "$PORT_HTTP" >"$WORK/logs/http.log" 2>&1 &
    BG_PIDS+=("$!")
    local i ok4=0 ok6=0
    for ((i = 0; i < 50; i++)); do
        if ip netns exec "$NS_SRV" curl -s --max-time 1 -o /dev/null "http://[::1]:$PORT_HTTP/$SMALL"; then
            ok6=1; break
        fi
        sleep 0.1
    done
    ((ok6)) || die "http.server did not come up: $(cat "$WORK/logs/http.log")"
    if ip netns exec "$NS_SRV" curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$PORT_HTTP/$SMALL"; then ok4=1; fi
    ((ok4)) || die "http.server bound to :: does not accept IPv4 here (net.ipv6.bindv6only=$(ip netns exec "$NS_SRV" sysctl -n net.ipv6.bindv6only))"
    fact "python3 -m http.server --bind :: accepts IPv4 too (dual-stack socket; bindv6only=$(ip netns exec "$NS_SRV" sysctl -n net.ipv6.bindv6only), IPv4 clients appear as ::ffff:a.b.c.d in its log) - $("$PYTHON" --version 2>&1)"
}

# ---------------------------------------------------------------------------------------------
# capturing
# ---------------------------------------------------------------------------------------------
# wait_for_line FILE TEXT PID: wait (max 5 s) until FILE contains TEXT; fail if PID died
wait_for_line() {
    local file=$1 text=$2 pid=$3 i
    for ((i = 0; i < 50; i++)); do
        grep -q -- "$text" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

CAP_PID=""
CAP_LOG=""
# capture_start NS OUTFILE FILTER ARGS...: start tcpdump in NS (ARGS choose -i/-y), wait until ready
capture_start() {
    local ns=$1 out=$2 filter=$3; shift 3
    CAP_LOG="$WORK/logs/$(basename "$out").log"
    log "capture: ip netns exec $ns tcpdump $* -U --immediate-mode -Z root -w $(basename "$out") '$filter'"
    ip netns exec "$ns" timeout 120 tcpdump "$@" -nn -U --immediate-mode -Z root -s 0 \
        -w "$out" "$filter" >"$CAP_LOG" 2>&1 &
    CAP_PID=$!
    BG_PIDS+=("$CAP_PID")
    wait_for_line "$CAP_LOG" "listening on" "$CAP_PID" || die "tcpdump did not start: $(cat "$CAP_LOG")"
    sleep 0.3
}

# capture_start_dumpcap NS IFACE OUTFILE FILTER: same with dumpcap (writes pcapng)
capture_start_dumpcap() {
    local ns=$1 ifc=$2 out=$3 filter=$4
    CAP_LOG="$WORK/logs/$(basename "$out").log"
    log "capture: ip netns exec $ns dumpcap -i $ifc -f '$filter' -w $(basename "$out")"
    ip netns exec "$ns" timeout 120 dumpcap -i "$ifc" -f "$filter" -w "$out" >"$CAP_LOG" 2>&1 &
    CAP_PID=$!
    BG_PIDS+=("$CAP_PID")
    wait_for_line "$CAP_LOG" "Capturing on" "$CAP_PID" || die "dumpcap did not start: $(cat "$CAP_LOG")"
    sleep 0.5
}

capture_stop() {
    # let the last ACKs / retransmissions land; libpcap's TPACKET_V3 blocks are retired after
    # at most 1 s, so wait a bit longer than that before interrupting (dumpcap has no
    # immediate mode, tcpdump uses --immediate-mode but the wait costs little)
    sleep 1.2
    kill -INT "$CAP_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do kill -0 "$CAP_PID" 2>/dev/null || break; sleep 0.1; done
    local rc=0
    if kill -0 "$CAP_PID" 2>/dev/null; then stop_pid "$CAP_PID" TERM; else wait "$CAP_PID" || rc=$?; fi
    # drop it from BG_PIDS
    local keep=() p
    for p in "${BG_PIDS[@]}"; do [[ $p == "$CAP_PID" ]] || keep+=("$p"); done
    BG_PIDS=("${keep[@]}")
    ((rc == 0)) || die "capture process exited with $rc: $(cat "$CAP_LOG")"
    log "  $(grep -E 'packets captured|Packets captured' "$CAP_LOG" | head -1)"
}

# client_curl NS EXPECT_RC CURL_ARGS...: run curl in NS, insist on the expected exit code
client_curl() {
    local ns=$1 expect=$2; shift 2
    local rc=0
    log "+ ip netns exec $ns curl $*"
    ip netns exec "$ns" curl -sS -A "$CURL_UA" -o /dev/null -w '  -> HTTP %{http_code}, %{size_download} bytes\n' \
        "$@" 2>"$WORK/logs/curl.err" || rc=$?
    [[ -s $WORK/logs/curl.err ]] && log "  curl: $(cat "$WORK/logs/curl.err")"
    ((rc == expect)) || die "curl exited $rc, expected $expect"
}

# capture_download NAME CAPTURE_NS CLIENT_NS URL LOCAL_PORT FILTER TCPDUMP_ARGS...:
# one GET from CLIENT_NS, captured by tcpdump in CAPTURE_NS (usually the same namespace)
capture_download() {
    local name=$1 cap_ns=$2 client_ns=$3 url=$4 lport=$5 filter=$6; shift 6
    log "== $name"
    capture_start "$cap_ns" "$WORK/out/$name" "$filter" "$@"
    client_curl "$client_ns" 0 --max-time 5 --local-port "$lport" "$url"
    capture_stop
}

# ---------------------------------------------------------------------------------------------
# the captures
# ---------------------------------------------------------------------------------------------
V4_FILTER="host $SRV4 and tcp port $PORT_HTTP"
V4_URL="http://$SRV4:$PORT_HTTP/$BLOB"

do_captures() {
    # 1, 2: the two "OSes"
    capture_download linux-default.pcap "$NS_DEF" "$NS_DEF" "$V4_URL" 40001 "$V4_FILTER" -i veth0
    capture_download linux-tuned.pcap "$NS_TUN" "$NS_TUN" "$V4_URL" 40002 "$V4_FILTER" -i veth0
    # 3: IPv6
    capture_download ipv6-default.pcap "$NS_DEF" "$NS_DEF" "http://[$SRV6]:$PORT_HTTP/$BLOB" 40003 \
        "host $SRV6 and tcp port $PORT_HTTP" -i veth0
    # 4: pcapng written by dumpcap
    log "== linux-default.pcapng"
    capture_start_dumpcap "$NS_DEF" veth0 "$WORK/out/linux-default.pcapng" "$V4_FILTER"
    client_curl "$NS_DEF" 0 --max-time 5 --local-port 40004 "$V4_URL"
    capture_stop
    # 5: closed port -> RST
    log "== reset.pcap"
    capture_start "$NS_DEF" "$WORK/out/reset.pcap" "host $SRV4 and tcp port $PORT_CLOSED" -i veth0
    client_curl "$NS_DEF" 7 --connect-timeout 3 --max-time 5 --local-port 40005 "http://$SRV4:$PORT_CLOSED/"
    capture_stop
    # 6: ICMP admin-prohibited
    log "== icmp.pcap"
    capture_start "$NS_DEF" "$WORK/out/icmp.pcap" "host $SRV4 and (tcp port $PORT_ICMP or icmp)" -i veth0
    client_curl "$NS_DEF" 7 --connect-timeout 3 --max-time 5 --local-port 40006 "http://$SRV4:$PORT_ICMP/"
    capture_stop
    # 7: silently dropped SYN -> retransmissions, curl gives up after 3 s
    log "== no-reply.pcap"
    capture_start "$NS_DEF" "$WORK/out/no-reply.pcap" "host $SRV4 and tcp port $PORT_DROP" -i veth0
    client_curl "$NS_DEF" 28 --connect-timeout 3 --max-time 5 --local-port 40007 "http://$SRV4:$PORT_DROP/"
    capture_stop
    # 8: Linux cooked captures
    capture_download linux-sll.pcap "$NS_DEF" "$NS_DEF" "$V4_URL" 40008 "$V4_FILTER" -i any -y LINUX_SLL -B 65536
    local dlts
    dlts=$(ip netns exec "$NS_DEF" tcpdump -i any -L 2>&1 || true)   # tcpdump -L prints to stderr
    if grep -q LINUX_SLL2 <<<"$dlts"; then
        capture_download linux-sll2.pcap "$NS_DEF" "$NS_DEF" "$V4_URL" 40009 "$V4_FILTER" -i any -y LINUX_SLL2 -B 65536
    else
        fact "tcpdump -i any does not offer LINUX_SLL2 here: linux-sll2.pcap skipped"
    fi
    # 9: 802.1Q-tagged frames on the trunk
    capture_download vlan.pcap "$NS_SW" "$NS_DEF" "http://$VLAN_SRV4:$PORT_HTTP/$BLOB" 40010 \
        "vlan $VLAN_ID and host $VLAN_SRV4 and tcp port $PORT_HTTP" -i trunk0
    # 10: ECN without fallback
    capture_download ecn-fallback0.pcap "$NS_ECN" "$NS_ECN" "$V4_URL" 40011 "$V4_FILTER" -i veth0
    # 11: 5 + 5 short GETs seen from the server (bridge)
    log "== many-attempts.pcap"
    capture_start "$NS_SRV" "$WORK/out/many-attempts.pcap" "host $SRV4 and tcp port $PORT_HTTP" -i br0
    local i
    for ((i = 1; i <= 5; i++)); do
        client_curl "$NS_DEF" 0 --max-time 5 --local-port $((41000 + i)) "http://$SRV4:$PORT_HTTP/$SMALL"
        client_curl "$NS_TUN" 0 --max-time 5 --local-port $((42000 + i)) "http://$SRV4:$PORT_HTTP/$SMALL"
        sleep 0.1
    done
    capture_stop
    # raw IP, derived from linux-default.pcap
    make_raw_ip
}

# tshark_count FILE DISPLAY_FILTER: number of matching frames
tshark_count() { tshark -r "$1" -Y "$2" -T fields -e frame.number 2>/dev/null | wc -l; }

raw_ip_valid() {   # all frames decode as IPv4/TCP and nothing is malformed
    local f=$1 total tcp bad
    total=$(tshark_count "$f" "frame")
    tcp=$(tshark_count "$f" "ip.version == 4 && tcp")
    bad=$(tshark_count "$f" "_ws.malformed || _ws.expert.severity >= error")
    log "  $(basename "$f"): $total frames, $tcp IPv4/TCP, $bad malformed/error"
    ((total > 0 && tcp == total && bad == 0))
}

make_raw_ip() {
    log "== raw-ip.pcap (editcap -T rawip from linux-default.pcap)"
    local src=$WORK/out/linux-default.pcap dst=$WORK/out/raw-ip.pcap
    run editcap -F pcap -T rawip "$src" "$WORK/raw-ip-plain.pcap"
    if raw_ip_valid "$WORK/raw-ip-plain.pcap"; then
        mv "$WORK/raw-ip-plain.pcap" "$dst"
        fact "editcap -T rawip alone produced a valid raw-IP file"
        return
    fi
    fact "editcap -T rawip alone only relabels the link type: the 14-byte Ethernet header stays, so tshark shows every frame as undecodable 'Raw packet data' (first nibble 0 is no IP version); editcap -C 14 -T rawip (chop the Ethernet header, then relabel) is used instead"
    run editcap -F pcap -C 14 -T rawip "$src" "$WORK/raw-ip-chop.pcap"
    if raw_ip_valid "$WORK/raw-ip-chop.pcap"; then
        mv "$WORK/raw-ip-chop.pcap" "$dst"
    else
        fact "editcap -C 14 -T rawip did not produce a valid file either: raw-ip.pcap skipped"
    fi
}

# ---------------------------------------------------------------------------------------------
# verification
# ---------------------------------------------------------------------------------------------
CHECK_FAILS=0
expect() {   # expect FILE DESCRIPTION DISPLAY_FILTER OP N   (OP: -ge or -eq)
    local f=$1 what=$2 flt=$3 op=$4 n=$5 got ok=0
    got=$(tshark_count "$WORK/out/$f" "$flt")
    case $op in
        -ge) ((got >= n)) && ok=1 ;;
        -eq) ((got == n)) && ok=1 ;;
        *) die "expect: bad operator $op" ;;
    esac
    if ((ok)); then
        log "  ok   $f: $what ($got)"
    else
        log "  FAIL $f: $what: got $got, want $op $n   [$flt]"
        CHECK_FAILS=$((CHECK_FAILS + 1))
    fi
}

SYN="tcp.flags.syn == 1 && tcp.flags.ack == 0"
SYNACK="tcp.flags.syn == 1 && tcp.flags.ack == 1"

expect_download() {   # a complete GET of the 16 KiB blob
    local f=$1
    expect "$f" "client SYN" "$SYN" -eq 1
    expect "$f" "SYN-ACK" "$SYNACK" -eq 1
    expect "$f" "HTTP 200" "http.response.code == 200" -ge 1
    expect "$f" "FIN from both sides" "tcp.flags.fin == 1" -ge 2
    expect "$f" "no RST" "tcp.flags.reset == 1" -eq 0
}

verify_all() {
    log "== verification"
    local f size
    for f in "$WORK"/out/*; do
        size=$(stat -c %s "$f")
        ((size < MAX_FILE_BYTES)) || { log "  FAIL $(basename "$f") is $size bytes"; CHECK_FAILS=$((CHECK_FAILS + 1)); }
    done
    for f in linux-default.pcap linux-tuned.pcap ipv6-default.pcap linux-default.pcapng \
        linux-sll.pcap vlan.pcap ecn-fallback0.pcap; do
        expect_download "$f"
    done
    [[ -e $WORK/out/linux-sll2.pcap ]] && expect_download linux-sll2.pcap
    expect linux-default.pcap "SYN has timestamps+SACK-perm+wscale" "$SYN && tcp.option_kind == 8 && tcp.option_kind == 4 && tcp.option_kind == 3" -eq 1
    expect linux-default.pcap "SYN TTL 64, no ECN setup" "$SYN && ip.ttl == 64 && tcp.flags.ece == 0" -eq 1
    expect linux-tuned.pcap "SYN has only MSS" "$SYN && !(tcp.option_kind == 8) && !(tcp.option_kind == 4) && !(tcp.option_kind == 3) && tcp.option_kind == 2" -eq 1
    expect linux-tuned.pcap "SYN TTL 128 with ECE+CWR" "$SYN && ip.ttl == 128 && tcp.flags.ece == 1 && tcp.flags.cwr == 1" -eq 1
    expect ipv6-default.pcap "all IPv6" "ipv6" -ge 10
    expect ipv6-default.pcap "hop limit 64 on SYN" "$SYN && ipv6.hlim == 64" -eq 1
    expect reset.pcap "SYN" "$SYN" -ge 1
    expect reset.pcap "RST" "tcp.flags.reset == 1" -ge 1
    expect icmp.pcap "SYN" "$SYN" -ge 1
    expect icmp.pcap "ICMP admin-prohibited (3/13)" "icmp.type == 3 && icmp.code == 13" -ge 1
    expect no-reply.pcap "SYN + retransmissions" "$SYN" -ge 2
    expect no-reply.pcap "nothing from the server" "ip.src == $SRV4" -eq 0
    expect vlan.pcap "every frame tagged VLAN $VLAN_ID" "!(vlan.id == $VLAN_ID)" -eq 0
    expect vlan.pcap "tagged frames" "vlan.id == $VLAN_ID" -ge 10
    expect ecn-fallback0.pcap "SYN with ECE+CWR" "$SYN && tcp.flags.ece == 1 && tcp.flags.cwr == 1" -eq 1
    expect ecn-fallback0.pcap "ECN-setup SYN-ACK (ECE)" "$SYNACK && tcp.flags.ece == 1" -eq 1
    expect many-attempts.pcap "10 client SYNs" "$SYN" -eq 10
    expect many-attempts.pcap "10 SYN-ACKs" "$SYNACK" -eq 10
    expect many-attempts.pcap "10 HTTP 200" "http.response.code == 200" -eq 10
    expect many-attempts.pcap "5 SYNs with TTL 128 (tuned client)" "$SYN && ip.ttl == 128" -eq 5
    if [[ -e $WORK/out/raw-ip.pcap ]]; then
        expect raw-ip.pcap "same frames as linux-default.pcap" "frame" -eq "$(tshark_count "$WORK/out/linux-default.pcap" frame)"
    fi
    ((CHECK_FAILS == 0)) || die "$CHECK_FAILS check(s) failed"

    for f in "$WORK"/out/*; do
        log "--- tshark -r $(basename "$f") -c 5"
        tshark -r "$f" -c 5 >&2
        log "--- tcpdump -r $(basename "$f") -nn | head -5"
        tcpdump -r "$f" -nn 2>/dev/null | head -5 >&2 || true
    done
}

# ---------------------------------------------------------------------------------------------
# README
# ---------------------------------------------------------------------------------------------
# linktype_num FILE: the numeric LINKTYPE_ from a pcap header or a pcapng's first IDB
linktype_num() {
    "$PYTHON" - "$1" <<'PYEOF'
import struct, sys
d = open(sys.argv[1], "rb").read(4096)
magic = d[:4]
if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
    print(struct.unpack("<I", d[20:24])[0])
elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
    print(struct.unpack(">I", d[20:24])[0])
elif magic == b"\x0a\x0d\x0d\x0a":
    e = "<" if d[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    off = 0
    while off + 12 <= len(d):
        btype, blen = struct.unpack(e + "II", d[off:off + 8])
        if btype == 1:
            print(struct.unpack(e + "H", d[off + 8:off + 10])[0])
            break
        off += blen
else:
    print("?")
PYEOF
}

# capinfo_line FILE: "format, link type, packets, size" from capinfos
capinfo_line() {
    local f=$WORK/out/$1
    # shellcheck disable=SC2016  # backticks are Markdown, not command substitution
    printf 'File format: `%s`; link type: `%s` (LINKTYPE %s); packets: %s; size: %s bytes' \
        "$(capinfos -t "$f" | sed -n 's/^File type: *//p')" \
        "$(capinfos -E "$f" | sed -n 's/^File encapsulation: *//p')" \
        "$(linktype_num "$f")" \
        "$(capinfos -c "$f" | sed -n 's/^Number of packets: *//p')" \
        "$(stat -c %s "$f")"
}

write_readme() {
    local r=$WORK/out/README.md sll2_section raw_section fact_lines=""
    local f summary
    for f in "${FACTS[@]}"; do fact_lines+="- $f"$'\n'; done
    summary="| file | link type (LINKTYPE) | packets | outcome |"$'\n'"| --- | --- | --- | --- |"
    local -A outcome=(
        [linux-default.pcap]="IPv4 GET 16 KiB, default Linux profile"
        [linux-tuned.pcap]="IPv4 GET 16 KiB, tuned profile (no TS/SACK/WS, TTL 128, ECN)"
        [ipv6-default.pcap]="IPv6 GET 16 KiB, default profile"
        [linux-default.pcapng]="as linux-default, pcapng by dumpcap"
        [reset.pcap]="SYN -> RST (closed port)"
        [icmp.pcap]="SYN -> ICMP admin-prohibited"
        [no-reply.pcap]="SYN + retransmissions, no answer"
        [linux-sll.pcap]="default GET, Linux cooked v1"
        [linux-sll2.pcap]="default GET, Linux cooked v2"
        [vlan.pcap]="default GET, 802.1Q VLAN 100"
        [ecn-fallback0.pcap]="GET with ECN negotiated (tcp_ecn=1, fallback 0)"
        [many-attempts.pcap]="10 short GETs from 2 profiles, server side"
        [raw-ip.pcap]="linux-default as raw IP (no link header)"
    )
    for f in linux-default.pcap linux-tuned.pcap ipv6-default.pcap linux-default.pcapng reset.pcap \
        icmp.pcap no-reply.pcap linux-sll.pcap linux-sll2.pcap vlan.pcap ecn-fallback0.pcap \
        many-attempts.pcap raw-ip.pcap; do
        [[ -e $WORK/out/$f ]] || continue
        summary+=$'\n'"| \`$f\` | $(capinfos -E "$WORK/out/$f" | sed -n 's/^File encapsulation: *//p') ($(linktype_num "$WORK/out/$f")) | $(capinfos -c "$WORK/out/$f" | sed -n 's/^Number of packets: *//p') | ${outcome[$f]} |"
    done
    if [[ -e $WORK/out/linux-sll2.pcap ]]; then
        sll2_section="## linux-sll2.pcap

- Made like \`linux-sll.pcap\` but with \`tcpdump -i any -y LINUX_SLL2\` (client port 40009).
- Shows: the same download with the Linux cooked v2 header (interface index, protocol,
  packet type; 20 bytes).
- $(capinfo_line linux-sll2.pcap)
"
    else
        sll2_section="## linux-sll2.pcap

Skipped: this tcpdump does not list LINUX_SLL2 for \`-i any\`.
"
    fi
    if [[ -e $WORK/out/raw-ip.pcap ]]; then
        raw_section="## raw-ip.pcap

- Made offline from \`linux-default.pcap\`: \`editcap -F pcap -C 14 -T rawip linux-default.pcap raw-ip.pcap\`
  (\`-T rawip\` alone only relabels the link type and leaves the Ethernet header in every frame,
  which tshark then shows as undecodable \"Raw packet data\"; \`-C 14\` chops the 14-byte
  Ethernet header first). pcap link type 101 (LINKTYPE_RAW).
  The script checks with tshark that every frame decodes as IPv4/TCP with no malformed frames.
- Shows: the same download as \`linux-default.pcap\`, packets starting at the IPv4 header.
- $(capinfo_line raw-ip.pcap)
"
    else
        raw_section="## raw-ip.pcap

Skipped: editcap could not produce a raw-IP file that tshark decodes cleanly.
"
    fi

    cat >"$r" <<EOF
# synlab reference captures

Generated by \`scripts/capture-profiles.sh\` (regenerate with \`sudo scripts/capture-profiles.sh\`).
All traffic was made inside throwaway network namespaces (\`slcap-*\`) on one Linux host
($(uname -sr)); addresses are from the benchmarking range 198.18.0.0/15 and the ULA prefix
fd00:5ab::/48 and exist only inside those namespaces. Nothing here touched a real network.

Main use: \`synlab diff captures/linux-default.pcap captures/linux-tuned.pcap\`.

$summary

## Lab setup (common to all files)

- Server namespace \`slcap-srv\`: bridge \`br0\` (MAC 02:5a:b0:00:00:01) with $SRV4/24 and
  $SRV6/64; \`python3 -m http.server --bind :: $PORT_HTTP\` serving \`/$BLOB\`
  ($BLOB_SIZE bytes: 512 lines \`synlab capture payload\` + 7-digit line number + newline) and
  \`/$SMALL\` (18 bytes). Python's http.server answers HTTP/1.0 with a Content-Length and
  closes the connection; curl closes too as soon as it has the body, so the two FINs cross and
  either side's FIN may come first (it varies from run to run). Port $PORT_CLOSED has no listener. nftables (\`table inet slcap\`):
  \`tcp dport $PORT_ICMP reject with icmpx type admin-prohibited\`, \`tcp dport $PORT_DROP drop\`.
  Server sysctls are the kernel defaults (note: default \`net.ipv4.tcp_ecn=2\`, i.e. ECN is
  accepted when a client asks for it, but not requested).
- Client namespaces, each with \`veth0\` plugged into \`br0\`:
  - \`slcap-def\` 198.18.0.2 / fd00:5ab::2, MAC 02:5a:b0:00:00:02: kernel default TCP sysctls
    (timestamps, SACK, window scaling on; TTL 64; tcp_ecn=2).
  - \`slcap-tun\` 198.18.0.3, MAC 02:5a:b0:00:00:03: \`${TUNED_SYSCTLS[*]}\`.
  - \`slcap-ecn\` 198.18.0.4, MAC 02:5a:b0:00:00:04: \`${ECN_SYSCTLS[*]}\`.
- Every veth (and br0) has offloads off: \`ethtool -K IFACE tx off tso off gso off gro off\`,
  so captured segments are at most one MSS and checksums in the files are the real ones.
- Captures: \`tcpdump -i IFACE -U --immediate-mode -s 0 -w FILE 'FILTER'\` (full snaplen) started
  inside the namespace, then one \`curl --max-time 5 --local-port PORT\` (fixed client ports,
  user agent \`$CURL_UA\`), then tcpdump is stopped with SIGINT. Timestamps, ISNs and the
  HTTP \`Date:\` header differ on every run; everything else is reproducible.

## linux-default.pcap

- Client \`slcap-def\` (default sysctls), capture on \`veth0\` in the client namespace,
  filter \`$V4_FILTER\`, \`curl --local-port 40001 $V4_URL\`.
- Shows: complete IPv4 HTTP GET of the 16 KiB file: 3-way handshake (SYN with MSS 1460,
  SACK-permitted, timestamps, window scale 10), request, response in segments of at most
  1448 payload bytes (MSS minus 12 bytes of timestamp option), FINs from both sides, final ACK.
  TTL 64, no ECN.
- $(capinfo_line linux-default.pcap)

## linux-tuned.pcap

- Client \`slcap-tun\`: \`${TUNED_SYSCTLS[*]}\`; otherwise as linux-default
  (client port 40002).
- Shows: same download; the SYN carries only MSS (no SACK-permitted, timestamps, window scale),
  TTL 128, and ECE+CWR (ECN setup). The server (tcp_ecn=2) answers with an ECN-setup SYN-ACK
  (ECE), so the data segments are ECT(0)-marked. No timestamps on any segment.
- $(capinfo_line linux-tuned.pcap)

## ipv6-default.pcap

- Client \`slcap-def\`, capture on \`veth0\`, filter \`host $SRV6 and tcp port $PORT_HTTP\`,
  \`curl --local-port 40003 'http://[$SRV6]:$PORT_HTTP/$BLOB'\`. Addresses added with \`nodad\`
  (and accept_dad=0 in every namespace).
- Shows: the default-profile download over IPv6 (hop limit 64, MSS 1440).
- $(capinfo_line ipv6-default.pcap)

## linux-default.pcapng

- As linux-default.pcap (client \`slcap-def\`, port 40004) but written by
  \`dumpcap -i veth0 -f '$V4_FILTER' -w linux-default.pcapng\` inside the client namespace.
- Shows: the same download in pcapng: one section header block (OS, hardware, "Dumpcap
  (Wireshark) ..." application), one interface description block (name veth0, link type 1,
  snaplen 262144, if_tsresol 9 = **nanosecond** timestamps, the capture filter), one enhanced
  packet block per packet, and an interface statistics block at the end. (All .pcap files here
  are classic little-endian microsecond pcap, magic a1b2c3d4, version 2.4, snaplen 262144.)
- $(capinfo_line linux-default.pcapng)

## reset.pcap

- Client \`slcap-def\`, capture on \`veth0\`, filter \`host $SRV4 and tcp port $PORT_CLOSED\`,
  \`curl --connect-timeout 3 --local-port 40005 http://$SRV4:$PORT_CLOSED/\` (curl exit 7).
- Shows: SYN to a closed port answered by RST+ACK.
- $(capinfo_line reset.pcap)

## icmp.pcap

- Client \`slcap-def\`, capture on \`veth0\`, filter \`host $SRV4 and (tcp port $PORT_ICMP or icmp)\`,
  \`curl --connect-timeout 3 --local-port 40006 http://$SRV4:$PORT_ICMP/\` (curl exit 7,
  "No route to host"). Server nft rule: \`tcp dport $PORT_ICMP reject with icmpx type admin-prohibited\`.
- Shows: SYN answered by ICMP destination unreachable (type 3), code 13 (communication
  administratively prohibited / "filtered"), quoting the whole original SYN.
- $(capinfo_line icmp.pcap)

## no-reply.pcap

- Client \`slcap-def\`, capture on \`veth0\`, filter \`host $SRV4 and tcp port $PORT_DROP\`,
  \`curl --connect-timeout 3 --local-port 40007 http://$SRV4:$PORT_DROP/\` (curl exit 28,
  timeout). Server nft rule: \`tcp dport $PORT_DROP drop\`.
- Shows: the SYN and its retransmissions with the same ISN, no answer at all. The client's
  \`net.ipv4.tcp_syn_linear_timeouts\` is $SYN_LINEAR here: with a value > 0 (newer kernels,
  default 4) the first retransmissions come 1 s apart (SYN at 0 s, 1 s, 2 s, maybe 3 s as
  curl gives up); older kernels back off exponentially (0 s, 1 s, 3 s).
- $(capinfo_line no-reply.pcap)

## linux-sll.pcap

- Client \`slcap-def\`, \`tcpdump -i any -y LINUX_SLL\` in the client namespace (which has only
  lo and veth0), filter \`$V4_FILTER\`, client port 40008.
- Shows: the default download with the Linux cooked v1 header (16 bytes: packet type
  host/outgoing, ARPHRD, address, protocol) instead of Ethernet.
- \`-B 65536\` (64 MiB buffer) is passed because with \`-i any\` and full snaplen libpcap sizes
  each ring slot for the snaplen, and the default 2 MiB ring then dropped packets
  ("packets dropped by kernel") during the download burst.
- $(capinfo_line linux-sll.pcap)

$sll2_section
## vlan.pcap

- Made without kernel VLAN devices: $VLAN_KERNEL.
  The tag is added by a small switch instead: namespace \`slcap-sw\` runs an AF_PACKET relay (written by the script) between access ports and a trunk veth pair
  \`trunk0\`==\`trunk1\`. Client \`slcap-def\` has \`vl100\` $VLAN_CLI4/24, server \`slcap-srv\` has
  \`vl100\` $VLAN_SRV4/24 (untagged access links to the switch). Frames entering an access port
  leave on the trunk with an 802.1Q tag (VID $VLAN_ID, PCP 0); tagged frames arriving from the trunk
  are untagged and forwarded. Both TCP endpoints are ordinary kernel stacks (default sysctls).
- Capture on the tagged parent link: \`tcpdump -i trunk0\` in \`slcap-sw\`, filter
  \`vlan $VLAN_ID and host $VLAN_SRV4 and tcp port $PORT_HTTP\`, client port 40010,
  \`curl http://$VLAN_SRV4:$PORT_HTTP/$BLOB\`.
- Shows: the default download, every frame Ethernet + 802.1Q (TPID 0x8100, VID $VLAN_ID) + IPv4.
  Frames with a full-size segment are 1518 bytes.
- $(capinfo_line vlan.pcap)

## ecn-fallback0.pcap

- Client \`slcap-ecn\`: \`${ECN_SYSCTLS[*]}\`, capture on \`veth0\`, client port 40011.
- Shows: SYN with ECE+CWR (ECN setup), ECN-setup SYN-ACK (ECE) from the server, data
  marked ECT(0); otherwise default options (timestamps, SACK, window scale, TTL 64).
  With tcp_ecn_fallback=0 the kernel would keep requesting ECN even on a retransmitted SYN;
  here the SYN was answered at once, so the file looks like any ECN-negotiating Linux client.
- $(capinfo_line ecn-fallback0.pcap)

## many-attempts.pcap

- Captured on the server side: \`tcpdump -i br0\` in \`slcap-srv\`, filter
  \`host $SRV4 and tcp port $PORT_HTTP\`. Ten short GETs of \`/$SMALL\`, alternating between
  \`slcap-def\` (client ports 41001-41005, default profile) and \`slcap-tun\` (42001-42005, tuned
  profile), each \`curl --max-time 5\`.
- Shows: 10 complete connections, all successful (HTTP 200), two distinct client fingerprints
  (198.18.0.2: TTL 64, full options; 198.18.0.3: TTL 128, MSS only, ECN setup).
  Useful as a "recorded outcomes" file.
- $(capinfo_line many-attempts.pcap)

$raw_section
## Facts about the machine that made these files

$fact_lines
EOF
}

# ---------------------------------------------------------------------------------------------
main() {
    preflight
    trap on_exit EXIT
    teardown   # leftovers of an earlier, aborted run
    WORK=$(mktemp -d /tmp/slcap.XXXXXX)
    mkdir -p "$WORK/out" "$WORK/logs"
    log "scratch directory $WORK, output directory $OUT_DIR"

    setup_topology
    start_http_server
    do_captures
    verify_all
    write_readme

    mkdir -p "$OUT_DIR"
    local f
    for f in "$WORK"/out/*; do
        install -m 0644 "$f" "$OUT_DIR/$(basename "$f")"
        if [[ -n ${SUDO_UID:-} && -n ${SUDO_GID:-} ]]; then chown "$SUDO_UID:$SUDO_GID" "$OUT_DIR/$(basename "$f")"; fi
    done
    local pid
    for pid in "${BG_PIDS[@]}"; do stop_pid "$pid" TERM; done
    BG_PIDS=()
    log "802.1Q relay: $(tail -n 1 "$WORK/logs/relay.log" 2>/dev/null || true)"

    teardown
    local left
    left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep '^slcap-' || true)
    [[ -z $left ]] || die "namespaces left behind: $left"
    log "== done; files in $OUT_DIR:"
    (cd "$OUT_DIR" && ls -l -- *.pcap *.pcapng README.md >&2)
    for f in "${FACTS[@]}"; do log "fact: $f"; done
}

main "$@"
