#!/usr/bin/env bash
# `handshakes --json` on one and two threads beside the read+decode ceiling
# (examples/read_decode.rs), interleaved: each round runs every command once
# on syn200k and syn20k (made by scripts/gen-bench-pcap.py as bench.sh makes
# them) and prints wall, CPU and peak RSS with the load average and how many
# other processes were busy (over 20% CPU) when the round began.
#
#   ROUNDS=5 BENCH_DIR=/tmp/slbench scripts/threads-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BENCH_DIR:-/tmp/synlab-bench}
mkdir -p "$dir"
cargo build --profile dist --quiet --bin synlab --example read_decode
B=target/dist/synlab
R=target/dist/examples/read_decode
[ -f "$dir/syn20k.pcap" ] || python3 scripts/gen-bench-pcap.py captures/many-attempts.pcap "$dir/syn20k.pcap" 240000 >&2
[ -f "$dir/syn200k.pcap" ] || python3 scripts/gen-bench-pcap.py captures/many-attempts.pcap "$dir/syn200k.pcap" 2400000 >&2
for r in $(seq 1 "${ROUNDS:-5}"); do
  busy=$(ps -eo comm,pcpu --no-headers | awk '$1!="synlab" && $1!="read_decode" && $2>20 {n++} END {print n+0}')
  for f in syn200k syn20k; do
    for t in 1 2; do
      /usr/bin/time -f "r=$r busy=$busy load=$(cut -d' ' -f1 /proc/loadavg) $f threads=$t wall=%e user=%U sys=%S rss=%MKB" \
        "$B" handshakes "$dir/$f.pcap" --json --threads "$t" > /dev/null
    done
    /usr/bin/time -f "r=$r busy=$busy load=$(cut -d' ' -f1 /proc/loadavg) $f read_decode wall=%e user=%U sys=%S rss=%MKB" \
      "$R" "$dir/$f.pcap" > /dev/null
  done
done
