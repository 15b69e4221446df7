#!/usr/bin/env bash
# lab.sh - a small, self-contained network lab for synlab.
#
# Topology (all inside network namespaces this script creates; nothing is
# added to the root namespace, so parallel labs cannot collide there):
#
#   ${P}-c1 [to-mb] ---- [to-c1]
#                            ${P}-mb [to-srv] ---- [to-mb] ${P}-srv
#   ${P}-c2 [to-mb] ---- [to-c2]   (router, nftables)       (HTTP :80)
#
# With `up --hops N` (N > 1) the middlebox is hop 1 of a chain of N
# routers, ${P}-r2 .. ${P}-rN, between it and the server:
#
#   c1/c2 -- mb (hop 1) -- r2 (hop 2) -- ... -- rN (hop N) -- srv
#
# each a namespace that forwards, with its own addresses, an nft forward
# chain (`rule --hop K`), a prerouting mangle chain (`mangle --hop K`) and
# an ICMP behaviour (`icmp --hop K normal|silent|ratelimit`).
#
# Capture on one interface, never `-i any` in the middlebox (a forwarded
# packet shows up twice there); see cmd_env. Run `scripts/lab.sh help`
# for usage. Needs root, iproute2, nftables, ethtool, python3 and curl.

set -euo pipefail

readonly TABLE=synlab_lab           # nft table (family inet) in the middlebox
readonly CHAIN=forward
readonly OPEN_PORT=80               # HTTP server listens here
readonly CLOSED_PORT=81             # nothing listens here -> TCP RST
readonly STATE_ROOT=/run/synlab-lab
readonly READY_TIMEOUT_S=5          # how long `up` waits for the HTTP server
readonly DATA_SIZE=16384            # size of data.bin served over HTTP
readonly BIG_SIZE=4194304           # size of big.bin (4 MiB: downloads past 1 MB)
readonly MANGLE_CHAIN=mangle        # prerouting chain of each hop (rewrites)
readonly ICMP_CHAIN=icmp_out         # output chain of each hop (ICMP behaviour)
readonly MAX_HOPS=16                # one /30 per link in 198.18.INDEX.192/26
# The fleet (`fleet`): a /20 of target addresses, all the server's, in the
# benchmarking range but outside every lab's 198.18.INDEX.0/24. Each lab has
# its own namespaces, so every lab can use the same prefix.
readonly FLEET_NET=198.19.0.0/20
readonly FLEET_BROKEN=198.19.1.0/24
readonly FLEET_LOSSY=198.19.2.0/26
readonly FLEET_DEAD=198.19.2.64/26
readonly FLEET_STALL=198.19.3.0/27
readonly FLEET_STALL_BYTES=8000     # server bytes a TTL-127 flow gets in $FLEET_STALL

PROG=${0##*/}

usage() {
    cat <<EOF
Usage: $PROG COMMAND

Commands:
  up [--hops N] build the lab (runs 'down' for the same prefix first) and wait
                until the HTTP server answers c1 and c2 over IPv4 and IPv6
                (at most ${READY_TIMEOUT_S} s, else it fails and cleans up).
                --hops N (1..$MAX_HOPS, default 1): N routers between the
                clients and the server, the middlebox being hop 1
  down          remove the lab's namespaces, processes, state and lock file
                (idempotent)
  rule 'EXPR'   append EXPR to the middlebox's forward chain
                (inet table $TABLE), e.g. $PROG rule 'ip ttl 127 drop'.
                Conntrack accounting is on, so 'ct bytes' works: the
                server serves data.bin (16 KiB) and big.bin (4 MiB)
  rule --hop K 'EXPR'
                the same in hop K's forward chain (K=1 is the middlebox),
                e.g. 'tcp dport 80 reject with tcp reset' or 'drop'
  mangle --hop K 'EXPR'
                append EXPR to hop K's prerouting chain, which runs before
                the TTL check: a router whose TTL expires quotes the packet
                as rewritten. Presets: 'mss-clamp' (SYN MSS set to 1300),
                'ecn-bleach' (ECE/CWR cleared in the SYN, IP ECN not-ECT)
  icmp --hop K normal|silent|ratelimit
                hop K's ICMP errors: sent (normal), never sent (silent), or
                at most one time-exceeded a second (ratelimit)
  flush         remove all rules from the middlebox's chain (policy stays
                accept); with --hop K, hop K's forward and mangle chains
  fleet         (opt-in, after up) give the server a whole prefix, $FLEET_NET
                (AnyIP: a local route on the server's loopback, routed by the
                middlebox), and model a fleet with per-sub-prefix rules:
                  $FLEET_BROKEN  drops SYNs seen with TTL 127 (sent with
                                  128: the Windows profiles): broken for them
                  $FLEET_LOSSY  drops 30% of SYNs at random (numgen)
                  $FLEET_DEAD  drops everything: offline
                  $FLEET_STALL  connections whose SYN was seen with TTL
                                  127 get the server's first $FLEET_STALL_BYTES
                                  bytes only (conntrack mark and byte count):
                                  the handshake works, the download stalls
                                  (broken for the Windows profiles under
                                  'sweep --exchange http:/data.bin' only)
                The rest of the /20 works. The server listens on port 80 of
                every address. 'flush' removes the rules, not the routes.
  status        show namespaces, addresses, the middlebox ruleset and
                whether the server answers from c1
  env           print shell-sourceable LAB_* variables: eval "\$($PROG env)"
                (with hops: LAB_HOPS, LAB_HOPk_NS, LAB_HOPk_IP, LAB_HOPk_IP6:
                the address hop k answers from, on its client side)
  help          show this text

Environment:
  LAB_PREFIX    namespace name prefix (default sllab): \${LAB_PREFIX}-c1,
                -c2, -mb, -srv. Letters, digits, '_' and '-'; max 32 chars.
  LAB_INDEX     0..250 (default 0); picks the lab's subnets, so labs with
                different prefixes can also use different addresses:
                  c1  link 198.18.INDEX.0/26    2001:2:0:INDEX1::/64
                  c2  link 198.18.INDEX.64/26   2001:2:0:INDEX2::/64
                  srv link 198.18.INDEX.128/26  2001:2:0:INDEX3::/64
                (middlebox is .1/.65/.129 and ::1; hosts .2/.66/.130 and ::2;
                with --hops N, link k between hop k and k+1 is
                198.18.INDEX.(192+4(k-1))/30 and 2001:2:0:INDEX4:k::/112,
                and hop N holds .129 and ::1 on the server's link;
                INDEX1 is INDEX's digits then 1: index 7 -> 2001:2:0:71::/64)
                These are the benchmarking ranges 198.18.0.0/15 and
                2001:2::/48 (RFC 2544, RFC 5180): synlab probes them without
                --i-own-this-network, from inside a namespace.
                Once a lab is up, its index is remembered; other commands
                use it and refuse a different LAB_INDEX.
  C1_SYSCTLS    (up only) space-separated key=value sysctls applied inside
  C2_SYSCTLS    c1 / c2, e.g. C2_SYSCTLS='net.ipv4.ip_default_ttl=128'
  LAB_KEEP_ON_FAIL=1  (up only) don't tear the lab down if 'up' fails

Needs root. Sends traffic only inside the lab's own namespaces.
EOF
}

die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

# ---------------------------------------------------------------------------
# Configuration derived from the environment
# ---------------------------------------------------------------------------

load_config() {
    P=${LAB_PREFIX:-sllab}
    [[ $P =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$ ]] ||
        die "LAB_PREFIX '$P' is invalid (letters, digits, '_', '-'; max 32 chars)"

    C1_NS=$P-c1
    C2_NS=$P-c2
    MB_NS=$P-mb
    SRV_NS=$P-srv
    ALL_NS=("$C1_NS" "$C2_NS" "$MB_NS" "$SRV_NS")
    STATE_DIR=$STATE_ROOT/$P

    # An existing lab remembers the index it was built with; commands other
    # than `up` use it so `env`/`status` always describe the lab that exists.
    local saved=
    [[ -r $STATE_DIR/index ]] && saved=$(<"$STATE_DIR/index")
    if [[ -n ${LAB_INDEX+set} ]]; then
        I=$LAB_INDEX
        if [[ ${CMD:-} != up && -n $saved && $saved != "$I" ]]; then
            die "lab '$P' is up with LAB_INDEX=$saved, not $I"
        fi
    else
        I=${saved:-0}
    fi
    if ! [[ $I =~ ^(0|[1-9][0-9]{0,2})$ ]] || ((I > 250)); then
        die "LAB_INDEX '$I' is invalid (integer 0..250)"
    fi

    # The number of routers on the path: `up --hops N`, else what the lab
    # was built with (1: the middlebox alone, the classic lab).
    if [[ ${CMD:-} == up ]]; then
        HOPS=${UP_HOPS:-1}
    else
        HOPS=1
        [[ -r $STATE_DIR/hops ]] && HOPS=$(<"$STATE_DIR/hops")
    fi
    if ! [[ $HOPS =~ ^[1-9][0-9]?$ ]] || ((HOPS > MAX_HOPS)); then
        die "--hops '$HOPS' is invalid (integer 1..$MAX_HOPS)"
    fi
    HOP_NS=("" "$MB_NS")
    local k
    for ((k = 2; k <= HOPS; k++)); do
        HOP_NS+=("$P-r$k")
        ALL_NS+=("$P-r$k")
    done

    # Interface names, as seen inside each namespace.
    CLIENT_IF=to-mb     # in c1 and in c2
    SRV_IF=to-mb        # in srv
    MB_C1_IF=to-c1      # in mb
    MB_C2_IF=to-c2
    MB_SRV_IF=to-srv

    # IPv4: one /26 per link inside 198.18.INDEX.0/24 (RFC 2544 benchmark
    # space, never routed on the Internet).
    local v4=198.18.$I
    MB_C1_IP=$v4.1;    C1_IP=$v4.2
    MB_C2_IP=$v4.65;   C2_IP=$v4.66
    MB_SRV_IP=$v4.129; SRV_IP=$v4.130
    # IPv6: one /64 per link inside 2001:2::/48 (RFC 5180 benchmark space,
    # the only IPv6 range synlab's guard probes without
    # --i-own-this-network). The fourth group is INDEX's decimal digits and
    # then the link number, read as hex: unique per (INDEX, link), and
    # written without leading zeros, as `ip` and synlab print it.
    local v6=2001:2:0
    MB_C1_IP6=$v6:$((I * 10 + 1))::1;  C1_IP6=$v6:$((I * 10 + 1))::2
    MB_C2_IP6=$v6:$((I * 10 + 2))::1;  C2_IP6=$v6:$((I * 10 + 2))::2
    MB_SRV_IP6=$v6:$((I * 10 + 3))::1; SRV_IP6=$v6:$((I * 10 + 3))::2

    # The chain: router interfaces are to-prev (client side, hops 2..N)
    # and to-srv (server side). Link k joins hop k (.1 of the /30, ::1)
    # and hop k+1 (.2, ::2). HOP_IP[k] is the address hop k answers from
    # on its client side.
    PREV_IF=to-prev
    HOP_IP=("" "$MB_C1_IP")
    HOP_IP6=("" "$MB_C1_IP6")
    LINK_IP=("") LINK_IP6=("")
    for ((k = 1; k < HOPS; k++)); do
        LINK_IP+=("$v4.$((192 + 4 * (k - 1)))")
        LINK_IP6+=("$v6:$((I * 10 + 4)):$k:")
        HOP_IP+=("$v4.$((192 + 4 * (k - 1) + 2))")
        HOP_IP6+=("$v6:$((I * 10 + 4)):$k::2")
    done
}

# link_addr K END: the address of hop K+END (END 1 or 2) on link K.
link_v4() { local base=${LINK_IP[$1]}; echo "${base%.*}.$((${base##*.} + $2))"; }
link_v6() { echo "${LINK_IP6[$1]}:$2"; }

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

need_root() { ((EUID == 0)) || die "must run as root"; }

need_tools() {
    local t missing=()
    for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
    ((${#missing[@]} == 0)) ||
        die "missing tool(s): ${missing[*]} (Debian: apt-get install -y iproute2 nftables ethtool python3 curl)"
}

# Pick a python for the server: prefer the distro's, so a user-level shim
# (pyenv & co.) that depends on the caller's environment is not in the way.
python_bin() {
    if [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3
    else command -v python3
    fi
}

ns_exists() { [[ -e /run/netns/$1 ]]; }

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

lab_is_up() { ns_exists "$MB_NS"; }

# One lock per prefix, so concurrent up/down/rule calls for the same lab
# serialise, while labs with different prefixes run in parallel. `down`
# removes the lock file while holding it (no lock files pile up in
# $STATE_ROOT): a waiter that then gets the lock of the removed file holds
# nothing a newcomer would see, so it takes the lock of the path anew.
take_lock() {
    local lock=$STATE_ROOT/$P.lock try
    for try in 1 2 3 4 5; do
        mkdir -p "$STATE_ROOT"
        exec 9>"$lock"
        flock -w 30 9 || die "timed out waiting for the lock of lab '$P'"
        [[ /dev/fd/9 -ef $lock ]] && return 0
    done
    die "could not take the lock of lab '$P' (its lock file keeps being removed)"
}

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# ---------------------------------------------------------------------------
# up: one function per step
# ---------------------------------------------------------------------------

create_namespaces() {
    local ns
    for ns in "${ALL_NS[@]}"; do
        ip netns add "$ns"
        in_ns "$ns" ip link set lo up
        # Set before any veth appears in the namespace, so new interfaces
        # inherit them: no DAD (addresses usable at once, no NS probes in
        # captures) and no router solicitations (less noise in captures).
        in_ns "$ns" sysctl -qw \
            net.ipv6.conf.default.accept_dad=0 \
            net.ipv6.conf.default.router_solicitations=0 \
            net.ipv6.conf.default.accept_ra=0
        # The kernel rate-limits ICMP errors (and a global token bucket);
        # tests that probe in bursts (reject rules, TTL expiry, ...) would
        # otherwise see errors vanish nondeterministically.
        in_ns "$ns" sysctl -qw \
            net.ipv4.icmp_ratelimit=0 \
            net.ipv4.icmp_msgs_per_sec=100000 \
            net.ipv4.icmp_msgs_burst=100000 \
            net.ipv6.icmp.ratelimit=0
    done
}

# Each veth pair is created directly between two lab namespaces: the names
# never exist in the root namespace, so parallel labs can't clash.
create_links() {
    ip -n "$MB_NS" link add "$MB_C1_IF" type veth peer name "$CLIENT_IF" netns "$C1_NS"
    ip -n "$MB_NS" link add "$MB_C2_IF" type veth peer name "$CLIENT_IF" netns "$C2_NS"
    local k
    for ((k = 1; k < HOPS; k++)); do
        ip -n "${HOP_NS[k]}" link add "$MB_SRV_IF" type veth peer name "$PREV_IF" netns "${HOP_NS[k + 1]}"
    done
    ip -n "${HOP_NS[HOPS]}" link add "$MB_SRV_IF" type veth peer name "$SRV_IF" netns "$SRV_NS"
}

# Offloads off on every veth. With TSO/GSO the stack hands veth 64 KiB
# "super-segments" and with GRO it merges received ones, so captures and
# the nftables forward chain would see packets that never exist on a real
# wire (wrong sizes, merged flags/options). synlab compares packets one by
# one, so each packet must be a real MTU-sized segment. TX checksum offload
# is switched off too: otherwise tcpdump on a veth shows locally generated
# packets with unfilled ("incorrect") checksums in every capture.
disable_offloads_one() {
    local ns=$1 dev=$2 out feature state
    # ethtool exits 0 when a requested feature is [fixed]; a real error
    # (no such device, ioctl failure, ...) makes it fail and, via set -e,
    # aborts `up`.
    in_ns "$ns" ethtool -K "$dev" tso off gso off gro off tx off >/dev/null
    # Check the result: every listed feature must now be off, or fixed.
    out=$(in_ns "$ns" ethtool -k "$dev")
    for feature in tcp-segmentation-offload generic-segmentation-offload \
        generic-receive-offload tx-checksumming; do
        state=$(awk -v f="$feature:" '$1 == f { print $2, $3 }' <<<"$out")
        case $state in
            off* | *"[fixed]") ;;
            *) die "$ns/$dev: could not turn off $feature (state: '$state')" ;;
        esac
    done
}

disable_offloads() {
    disable_offloads_one "$C1_NS" "$CLIENT_IF"
    disable_offloads_one "$C2_NS" "$CLIENT_IF"
    disable_offloads_one "$SRV_NS" "$SRV_IF"
    disable_offloads_one "$MB_NS" "$MB_C1_IF"
    disable_offloads_one "$MB_NS" "$MB_C2_IF"
    disable_offloads_one "$MB_NS" "$MB_SRV_IF"
    local k
    for ((k = 2; k <= HOPS; k++)); do
        disable_offloads_one "${HOP_NS[k]}" "$PREV_IF"
        disable_offloads_one "${HOP_NS[k]}" "$MB_SRV_IF"
    done
}

# addr NS DEV IPV4/LEN IPV6/LEN: address a link and bring it up.
addr() {
    local ns=$1 dev=$2 v4=$3 v6=$4
    ip -n "$ns" addr add "$v4" dev "$dev"
    # nodad: usable at once (no "tentative" phase), so `up` needn't wait.
    ip -n "$ns" -6 addr add "$v6" dev "$dev" nodad
    ip -n "$ns" link set "$dev" up
}

configure_addresses() {
    addr "$C1_NS" "$CLIENT_IF" "$C1_IP/26" "$C1_IP6/64"
    addr "$C2_NS" "$CLIENT_IF" "$C2_IP/26" "$C2_IP6/64"
    addr "$SRV_NS" "$SRV_IF" "$SRV_IP/26" "$SRV_IP6/64"
    addr "$MB_NS" "$MB_C1_IF" "$MB_C1_IP/26" "$MB_C1_IP6/64"
    addr "$MB_NS" "$MB_C2_IF" "$MB_C2_IP/26" "$MB_C2_IP6/64"
    if ((HOPS == 1)); then
        addr "$MB_NS" "$MB_SRV_IF" "$MB_SRV_IP/26" "$MB_SRV_IP6/64"
        return
    fi
    local k
    for ((k = 1; k < HOPS; k++)); do
        addr "${HOP_NS[k]}" "$MB_SRV_IF" "$(link_v4 "$k" 1)/30" "$(link_v6 "$k" 1)/112"
        addr "${HOP_NS[k + 1]}" "$PREV_IF" "$(link_v4 "$k" 2)/30" "$(link_v6 "$k" 2)/112"
    done
    addr "${HOP_NS[HOPS]}" "$MB_SRV_IF" "$MB_SRV_IP/26" "$MB_SRV_IP6/64"
}

# Clients and server send everything via the middlebox; the middlebox has
# connected routes to all three links, so it needs no extra routes.
configure_routes() {
    ip -n "$C1_NS" route add default via "$MB_C1_IP"
    ip -n "$C1_NS" -6 route add default via "$MB_C1_IP6"
    ip -n "$C2_NS" route add default via "$MB_C2_IP"
    ip -n "$C2_NS" -6 route add default via "$MB_C2_IP6"
    ip -n "$SRV_NS" route add default via "$MB_SRV_IP"
    ip -n "$SRV_NS" -6 route add default via "$MB_SRV_IP6"
    configure_chain_routes
}

# Along the chain: each hop sends the server's subnets on to the next hop,
# and everything else (the clients' links) back to the previous one.
configure_chain_routes() {
    local k
    for ((k = 1; k < HOPS; k++)); do
        ip -n "${HOP_NS[k]}" route add "${SRV_IP%.*}.128/26" via "$(link_v4 "$k" 2)"
        ip -n "${HOP_NS[k]}" -6 route add "${SRV_IP6%::*}::/64" via "$(link_v6 "$k" 2)"
        ip -n "${HOP_NS[k + 1]}" route add default via "$(link_v4 "$k" 1)"
        ip -n "${HOP_NS[k + 1]}" -6 route add default via "$(link_v6 "$k" 1)"
    done
}

enable_forwarding() {
    local k
    for ((k = 1; k <= HOPS; k++)); do
        in_ns "${HOP_NS[k]}" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    done
    # Conntrack byte and packet counters, so rules can match `ct bytes`
    # (e.g. drop a flow's data after its first megabyte). Counted only
    # for connections that start after this is set.
    in_ns "$MB_NS" sysctl -qw net.netfilter.nf_conntrack_acct=1
}

# apply_sysctls NS "k=v k=v ...": the per-client differences under test.
apply_sysctls() {
    local ns=$1 list=$2 kv
    [[ -n ${list// /} ]] || return 0
    for kv in $list; do
        [[ $kv =~ ^[A-Za-z0-9_./-]+=[^=]*$ ]] ||
            die "bad sysctl '$kv' for $ns (expected key=value)"
        in_ns "$ns" sysctl -qw "$kv" || die "sysctl '$kv' failed in $ns"
    done
    log "$ns sysctls: $list"
}

# An empty forward chain with policy accept: the middlebox is a plain
# router until `rule` adds something. Note that IPv4 forwarding decrements
# the TTL (IPv6: hop limit) *before* the forward hook, so a packet sent
# with TTL 128 is seen here with TTL 127.
setup_nft() {
    local k
    for ((k = 1; k <= HOPS; k++)); do
        in_ns "${HOP_NS[k]}" nft -f - <<EOF
table inet $TABLE {
    chain $CHAIN {
        type filter hook forward priority 0; policy accept;
    }
}
EOF
    done
}

# The prerouting chain of hop K, made on first use (the classic lab's
# ruleset stays as it was). Prerouting runs before the forward path's TTL
# check, so a router whose TTL expires quotes the rewritten packet.
ensure_mangle_chain() {
    in_ns "${HOP_NS[$1]}" nft add chain inet "$TABLE" "$MANGLE_CHAIN" \
        '{ type filter hook prerouting priority -150; policy accept; }'
}

ensure_icmp_chain() {
    in_ns "${HOP_NS[$1]}" nft add chain inet "$TABLE" "$ICMP_CHAIN" \
        '{ type filter hook output priority 0; policy accept; }'
}

# Close all fds above 2 of the current (sub)shell.
close_inherited_fds() {
    local f fd
    for f in /proc/"$BASHPID"/fd/*; do
        fd=${f##*/}
        ((fd > 2)) || continue
        exec {fd}>&- 2>/dev/null || true
    done
}

# Real HTTP server on [::]:80 in the server namespace: a few lines on top of
# Python's http.server (what `python3 -m http.server --bind ::` runs), with
# - IPV6_V6ONLY cleared, so the one socket serves IPv4 (as ::ffff:a.b.c.d)
#   and IPv6 (bindv6only is 0 in a new netns anyway);
# - a listen backlog of 128 instead of socketserver's 5, so bursts of
#   connections from tests are not dropped by a full accept queue;
# - no reverse lookup of the bind address at start (HTTPServer.server_bind
#   calls getfqdn(), and the lab has no DNS).
# Port $CLOSED_PORT has no listener, so connections there get a TCP RST.
write_server_script() {
    cat >"$STATE_DIR/httpd.py" <<'EOF'
import functools, http.server, socket, socketserver, sys

class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    request_queue_size = 128
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "synlab-srv", self.server_address[1]

directory, port = sys.argv[1], int(sys.argv[2])
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
print(f"serving {directory} on [::]:{port}", flush=True)
Server(("::", port), handler).serve_forever()
EOF
}

start_server() {
    local www=$STATE_DIR/www py
    py=$(python_bin)
    mkdir -p "$www"
    # Deterministic 16 KiB body: byte i is i mod 251 (no long runs, same
    # bytes every run, so captures can be compared across runs).
    "$py" -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(int(sys.argv[1]))))' \
        "$DATA_SIZE" >"$www/data.bin"
    # The same pattern, 4 MiB: a download long enough for middlebox rules
    # that act after the first megabyte (`ct bytes`).
    "$py" -c 'import sys; n = int(sys.argv[1]); sys.stdout.buffer.write((bytes(range(251)) * (n // 251 + 1))[:n])' \
        "$BIG_SIZE" >"$www/big.bin"
    write_server_script
    # In a subshell: close every inherited fd above 2 first. Otherwise the
    # long-lived server would keep the lab's lock (fd 9) held forever, and
    # keep open any pipe the caller passed in, so a harness waiting for EOF
    # on it would hang. setsid: own session, no SIGHUP from the caller's
    # terminal. setsid and `ip netns exec` both exec, so $! is the server's
    # own pid.
    (
        close_inherited_fds
        exec setsid ip netns exec "$SRV_NS" "$py" -u "$STATE_DIR/httpd.py" \
            "$www" "$OPEN_PORT" </dev/null >>"$STATE_DIR/http.log" 2>&1
    ) &
    echo $! >"$STATE_DIR/http.pid"
}

# Links come up asynchronously: the kernel's linkwatch batches carrier
# events (up to ~1 s apart), and until a veth end is operationally UP it
# has no IPv6 link-local address yet. Waiting for it keeps that settling
# out of the tests' traffic and captures.
links_up() {
    local ns_dev ns dev
    local chain=() k
    for ((k = 2; k <= HOPS; k++)); do
        chain+=("${HOP_NS[k]}/$PREV_IF" "${HOP_NS[k]}/$MB_SRV_IF")
    done
    for ns_dev in "$C1_NS/$CLIENT_IF" "$C2_NS/$CLIENT_IF" "$SRV_NS/$SRV_IF" \
        "$MB_NS/$MB_C1_IF" "$MB_NS/$MB_C2_IF" "$MB_NS/$MB_SRV_IF" "${chain[@]}"; do
        ns=${ns_dev%/*} dev=${ns_dev#*/}
        [[ $(ip -n "$ns" -o link show dev "$dev") == *" state UP "* ]] || return 1
    done
}

# fetch NS URL: one bounded HTTP GET from a namespace.
fetch() { in_ns "$1" curl -sf --max-time 1 -o /dev/null "$2"; }

# The server answers c1 and c2, over IPv4 and IPv6.
server_answers() {
    local ns url
    for ns in "$C1_NS" "$C2_NS"; do
        for url in "http://$SRV_IP:$OPEN_PORT/data.bin" \
            "http://[$SRV_IP6]:$OPEN_PORT/data.bin"; do
            fetch "$ns" "$url" || return 1
        done
    done
}

# Wait, at most READY_TIMEOUT_S in all, until every link is up and the HTTP
# server answers both clients over both IP versions.
wait_ready() {
    local deadline=$(($(now_ms) + READY_TIMEOUT_S * 1000)) pid
    pid=$(<"$STATE_DIR/http.pid")
    until links_up; do
        (($(now_ms) < deadline)) ||
            die "lab links did not come up within ${READY_TIMEOUT_S}s"
        sleep 0.05
    done
    until server_answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            die "HTTP server in $SRV_NS exited (log: $STATE_DIR/http.log)"
        fi
        (($(now_ms) < deadline)) ||
            die "HTTP server $SRV_IP / [$SRV_IP6] port $OPEN_PORT did not answer from $C1_NS and $C2_NS within ${READY_TIMEOUT_S}s (log: $STATE_DIR/http.log)"
        sleep 0.1
    done
}

cmd_up() {
    need_root
    need_tools ip nft ethtool sysctl curl flock setsid python3
    local t0
    t0=$(now_ms)
    take_lock
    teardown
    mkdir -p "$STATE_DIR"
    echo "$I" >"$STATE_DIR/index"
    echo "$HOPS" >"$STATE_DIR/hops"

    # From here on, a failure tears the half-built lab down again (unless
    # LAB_KEEP_ON_FAIL=1), so a failed CI run leaves nothing behind.
    trap 'on_up_failure' EXIT
    create_namespaces
    create_links
    disable_offloads
    configure_addresses
    configure_routes
    enable_forwarding
    apply_sysctls "$C1_NS" "${C1_SYSCTLS:-}"
    apply_sysctls "$C2_NS" "${C2_SYSCTLS:-}"
    setup_nft
    start_server
    wait_ready
    trap - EXIT
    ((HOPS == 1)) || log "lab '$P': $HOPS routers on the path (${HOP_NS[*]:1})"
    log "lab '$P' (index $I) is up in $(($(now_ms) - t0)) ms; server $SRV_IP / [$SRV_IP6]"
}

on_up_failure() {
    local rc=$?
    ((rc == 0)) && return
    if [[ ${LAB_KEEP_ON_FAIL:-0} == 1 ]]; then
        log "up failed; leaving lab '$P' in place (LAB_KEEP_ON_FAIL=1)"
    else
        # The state dir (and the server log in it) goes away with the lab.
        if [[ -s $STATE_DIR/http.log ]]; then
            log "last lines of the HTTP server log:"
            tail -n 5 "$STATE_DIR/http.log" >&2 || true
        fi
        log "up failed; tearing lab '$P' down (LAB_KEEP_ON_FAIL=1 keeps it)"
        teardown || true
    fi
}

# ---------------------------------------------------------------------------
# down
# ---------------------------------------------------------------------------

# Stop every process inside one of our namespaces (the HTTP server, and
# e.g. a tcpdump a test left behind: a live process would keep the netns
# alive after `ip netns del`). Bounded: TERM, up to 1 s, then KILL.
kill_ns_processes() {
    local ns=$1 pids i
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n $pids ]] || return 0
    # shellcheck disable=SC2086 # word splitting of the pid list is intended
    kill -TERM $pids 2>/dev/null || true
    for ((i = 0; i < 10; i++)); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [[ -n $pids ]] || return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
}

teardown() {
    local ns pid
    # The recorded server pid, in case it somehow left the namespace list;
    # only killed if it is still running inside our server namespace.
    if [[ -r $STATE_DIR/http.pid ]]; then
        pid=$(<"$STATE_DIR/http.pid")
        if [[ $pid =~ ^[0-9]+$ ]] && ns_exists "$SRV_NS" &&
            [[ $(ip netns identify "$pid" 2>/dev/null) == "$SRV_NS" ]]; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    fi
    # Also any chain router of this prefix the state no longer names (a
    # run killed before it wrote its hop count, a longer chain before).
    local stray
    stray=$(ip netns list 2>/dev/null | awk -v p="$P-r" \
        'index($1, p) == 1 && substr($1, length(p) + 1) ~ /^[0-9]+$/ { print $1 }')
    # shellcheck disable=SC2086 # word splitting of the list is intended
    for ns in "${ALL_NS[@]}" $stray; do
        ns_exists "$ns" || continue
        kill_ns_processes "$ns"
        # Deleting a namespace also deletes the veth ends inside it (and
        # with them their peers).
        ip netns del "$ns"
    done
    rm -rf -- "$STATE_DIR"
}

cmd_down() {
    need_root
    local t0
    t0=$(now_ms)
    take_lock
    teardown
    rm -f -- "$STATE_ROOT/$P.lock"
    log "lab '$P' is down ($(($(now_ms) - t0)) ms)"
}

# ---------------------------------------------------------------------------
# rule / flush / status / env
# ---------------------------------------------------------------------------

require_up() { lab_is_up || die "lab '$P' is not up (run: $PROG up)"; }

# hop_ns K: hop K's namespace, checked against the lab's hops.
hop_ns() {
    [[ $1 =~ ^[1-9][0-9]?$ ]] && (($1 <= HOPS)) ||
        die "no hop '$1' (the lab has hops 1..$HOPS)"
    echo "${HOP_NS[$1]}"
}

cmd_rule() {
    need_root
    if (($# != 1)) || [[ -z ${1// /} ]]; then
        die "usage: $PROG rule [--hop K] 'NFT RULE EXPRESSION'"
    fi
    take_lock
    require_up
    local ns
    ns=$(hop_ns "$HOP")
    # nft joins its arguments and parses them as one command, so the whole
    # expression can be passed as a single argument. -e -a echoes the rule
    # with its handle.
    in_ns "$ns" nft -e -a add rule inet "$TABLE" "$CHAIN" "$1" |
        sed -n 's/^add rule /rule added: /p'
}

# The rewrites a path commonly makes, by name.
mangle_preset() {
    case $1 in
        mss-clamp) echo 'tcp flags syn tcp option maxseg size set 1300' ;;
        ecn-bleach)
            echo 'tcp flags & (syn|ack|ecn|cwr) == syn|ecn|cwr tcp flags set syn'
            echo 'ip ecn set not-ect'
            echo 'ip6 ecn set not-ect'
            ;;
        *) echo "$1" ;;
    esac
}

cmd_mangle() {
    need_root
    if (($# != 1)) || [[ -z ${1// /} ]]; then
        die "usage: $PROG mangle [--hop K] 'NFT RULE EXPRESSION'|mss-clamp|ecn-bleach"
    fi
    take_lock
    require_up
    local ns expr
    ns=$(hop_ns "$HOP")
    ensure_mangle_chain "$HOP"
    while IFS= read -r expr; do
        in_ns "$ns" nft -e -a add rule inet "$TABLE" "$MANGLE_CHAIN" "$expr" |
            sed -n 's/^add rule /rule added: /p'
    done < <(mangle_preset "$1")
}

cmd_icmp() {
    need_root
    (($# == 1)) || die "usage: $PROG icmp [--hop K] normal|silent|ratelimit"
    take_lock
    require_up
    local ns rules
    ns=$(hop_ns "$HOP")
    case $1 in
        normal) rules=() ;;
        silent)
            rules=('icmp type { time-exceeded, destination-unreachable } drop'
                'icmpv6 type { time-exceeded, destination-unreachable } drop')
            ;;
        ratelimit)
            rules=('icmp type time-exceeded limit rate over 1/second burst 1 packets drop'
                'icmpv6 type time-exceeded limit rate over 1/second burst 1 packets drop')
            ;;
        *) die "icmp: '$1' is not normal, silent or ratelimit" ;;
    esac
    ensure_icmp_chain "$HOP"
    in_ns "$ns" nft flush chain inet "$TABLE" "$ICMP_CHAIN"
    local r
    for r in "${rules[@]}"; do
        in_ns "$ns" nft add rule inet "$TABLE" "$ICMP_CHAIN" "$r"
    done
    log "hop $HOP ($ns): ICMP errors $1"
}

cmd_flush() {
    need_root
    take_lock
    require_up
    local ns
    ns=$(hop_ns "$HOP")
    in_ns "$ns" nft flush chain inet "$TABLE" "$CHAIN"
    if [[ -n $HOP_GIVEN ]]; then
        in_ns "$ns" nft flush chain inet "$TABLE" "$MANGLE_CHAIN" 2>/dev/null || true
    fi
    log "chain inet $TABLE $CHAIN in $ns flushed"
}

# The server owns every address of FLEET_NET (a `local` route on its
# loopback: the kernel answers for the whole prefix, so thousands of targets
# need no thousands of namespaces); the middlebox routes the prefix to it.
# Then one rule per sub-prefix (daddr only: the SYNs, not the answers).
cmd_fleet() {
    need_root
    take_lock
    require_up
    [[ ! -e $STATE_DIR/fleet ]] || die "the fleet of lab '$P' is already set up"
    ip -n "$SRV_NS" route add local "$FLEET_NET" dev lo
    ip -n "$MB_NS" route add "$FLEET_NET" via "$SRV_IP"
    in_ns "$MB_NS" nft -f - <<EOF
add rule inet $TABLE $CHAIN ip daddr $FLEET_BROKEN ip ttl 127 drop
add rule inet $TABLE $CHAIN ip daddr $FLEET_LOSSY numgen random mod 10 < 3 drop
add rule inet $TABLE $CHAIN ip daddr $FLEET_DEAD drop
add rule inet $TABLE $CHAIN ip daddr $FLEET_STALL tcp flags & (syn | ack) == syn ip ttl 127 ct mark set 0x5
add rule inet $TABLE $CHAIN ip saddr $FLEET_STALL ct mark 0x5 ct reply bytes > $FLEET_STALL_BYTES drop
EOF
    touch "$STATE_DIR/fleet"
    log "fleet $FLEET_NET on $SRV_NS: broken (TTL 127) $FLEET_BROKEN, 30% loss $FLEET_LOSSY, dead $FLEET_DEAD, download stalls past $FLEET_STALL_BYTES bytes (TTL 127) $FLEET_STALL"
}

cmd_status() {
    need_root
    local ns
    echo "lab '$P' (index $I), state dir $STATE_DIR"
    echo "== namespaces"
    for ns in "${ALL_NS[@]}"; do
        if ns_exists "$ns"; then echo "  $ns: present"; else echo "  $ns: missing"; fi
    done
    lab_is_up || { echo "lab is down"; return 0; }
    echo "== addresses"
    for ns in "${ALL_NS[@]}"; do
        ns_exists "$ns" || continue
        echo "-- $ns"
        ip -n "$ns" -br addr show | sed 's/^/  /'
    done
    echo "== nft ruleset of $MB_NS"
    in_ns "$MB_NS" nft list ruleset | sed 's/^/  /'
    echo "== HTTP server (from $C1_NS, curl --max-time 2)"
    local url
    for url in "http://$SRV_IP:$OPEN_PORT/data.bin" "http://[$SRV_IP6]:$OPEN_PORT/data.bin"; do
        if ns_exists "$C1_NS" &&
            in_ns "$C1_NS" curl -sf --max-time 2 -o /dev/null "$url"; then
            echo "  $url: answers"
        else
            echo "  $url: NOT answering"
        fi
    done
}

# Shell-sourceable; `eval "$(scripts/lab.sh env)"`.
cmd_env() {
    local kv
    for kv in \
        "LAB_PREFIX=$P" "LAB_INDEX=$I" \
        "LAB_C1_NS=$C1_NS" "LAB_C2_NS=$C2_NS" \
        "LAB_MB_NS=$MB_NS" "LAB_SRV_NS=$SRV_NS" \
        "LAB_C1_IP=$C1_IP" "LAB_C2_IP=$C2_IP" "LAB_SRV_IP=$SRV_IP" \
        "LAB_C1_IP6=$C1_IP6" "LAB_C2_IP6=$C2_IP6" "LAB_SRV_IP6=$SRV_IP6" \
        "LAB_C1_IF=$CLIENT_IF" "LAB_C2_IF=$CLIENT_IF" "LAB_SRV_IF=$SRV_IF" \
        "LAB_MB_C1_IF=$MB_C1_IF" "LAB_MB_C2_IF=$MB_C2_IF" "LAB_MB_SRV_IF=$MB_SRV_IF" \
        "LAB_OPEN_PORT=$OPEN_PORT" "LAB_CLOSED_PORT=$CLOSED_PORT" \
        "LAB_FLEET=$FLEET_NET" "LAB_FLEET_BROKEN=$FLEET_BROKEN" \
        "LAB_FLEET_LOSSY=$FLEET_LOSSY" "LAB_FLEET_DEAD=$FLEET_DEAD"; do
        printf '%s=%q\n' "${kv%%=*}" "${kv#*=}"
    done
    # The chain, only when there is one (the classic lab's env is as it was).
    ((HOPS > 1)) || return 0
    local k
    printf 'LAB_HOPS=%q\n' "$HOPS"
    for ((k = 1; k <= HOPS; k++)); do
        printf 'LAB_HOP%d_NS=%q\nLAB_HOP%d_IP=%q\nLAB_HOP%d_IP6=%q\n' \
            "$k" "${HOP_NS[k]}" "$k" "${HOP_IP[k]}" "$k" "${HOP_IP6[k]}"
    done
    # Capturing: use one interface (e.g. tcpdump -i "$LAB_C1_IF" inside
    # $LAB_C1_NS, or one of the LAB_MB_*_IF in $LAB_MB_NS), never `-i any`
    # in the middlebox: a forwarded packet is seen once on the way in and
    # once on the way out, so every packet would appear twice. (Also, a
    # pcap taken with -i any records interface *indexes*; read outside the
    # namespace, tcpdump names them after the root namespace's interfaces.)
}

# ---------------------------------------------------------------------------

main() {
    CMD=${1:-}
    HOP=1 HOP_GIVEN=
    case $CMD in
        up)
            if [[ ${2:-} == --hops && $# == 3 ]]; then
                UP_HOPS=$3
                set -- "$1"
            fi
            (($# == 1)) || die "'up' takes only --hops N (see: $PROG help)"
            ;;
        flush | rule | mangle | icmp)
            if [[ ${2:-} == --hop && $# -ge 3 ]]; then
                HOP=$3 HOP_GIVEN=1
                set -- "$1" "${@:4}"
            fi
            [[ $CMD != flush ]] || (($# == 1)) ||
                die "'flush' takes only --hop K (see: $PROG help)"
            ;;
        down | fleet | status | env)
            (($# == 1)) || die "'$CMD' takes no arguments (see: $PROG help)"
            ;;
        help | -h | --help) usage; exit 0 ;;
        "") usage >&2; exit 2 ;;
        *) echo "$PROG: unknown command '$CMD'" >&2; usage >&2; exit 2 ;;
    esac
    shift
    load_config
    "cmd_$CMD" "$@"
}

main "$@"
