#!/usr/bin/env bash
# `handshakes --json` on one and two threads beside the read+decode ceiling
# (examples/read_decode.rs), interleaved: each round runs every command once
# on syn200k and syn20k (made by scripts/gen-bench-pcap.py as bench.sh makes
# them) and prints wall, CPU and peak RSS with the load average, how many
# other processes were busy (over 20% CPU) when the round began, and the
# steal time the guest was told of during each run.
#
# Each round also runs two one-thread processes at once ("pair"): on a
# shared VM the second core is not always there, and `machine=` (twice one
# process's wall over the pair's) says how many cores the round really had.
# Two threads cannot beat that; the summary gives the two-thread speed-up
# beside it, over every round and over the rounds that had both cores.
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
log=$(mktemp)
trap 'rm -f "$log"' EXIT

steal() { awk '/^cpu /{print $9}' /proc/stat; }
now() { date +%s%N; }
say() { echo "$*" | tee -a "$log" >&2; }

# One timed command: wall, CPU and RSS from /usr/bin/time, steal around it.
timed() {
  local label=$1 s0 s1 times
  shift
  s0=$(steal)
  times=$(/usr/bin/time -f "wall=%e user=%U sys=%S rss=%MKB" "$@" 2>&1 > /dev/null | tail -1)
  s1=$(steal)
  say "$label $times steal=$((s1 - s0))"
}

for r in $(seq 1 "${ROUNDS:-5}"); do
  busy=$(ps -eo comm,pcpu --no-headers | awk '$1!="synlab" && $1!="read_decode" && $2>20 {n++} END {print n+0}')
  head="r=$r busy=$busy load=$(cut -d' ' -f1 /proc/loadavg)"
  for f in syn200k syn20k; do
    for t in 1 2; do
      timed "$head $f threads=$t" "$B" handshakes "$dir/$f.pcap" --json --threads "$t"
    done
    a=$(now)
    "$B" handshakes "$dir/$f.pcap" --json --threads 1 > /dev/null &
    "$B" handshakes "$dir/$f.pcap" --json --threads 1 > /dev/null
    wait
    say "$head $f pair wall=$(( ($(now) - a) / 1000000 ))ms"
    timed "$head $f read_decode" "$R" "$dir/$f.pcap"
  done
done

# Per file: medians over the rounds, and over the rounds whose pair had
# both cores (machine >= 1.9).
python3 - "$log" <<'EOF'
import re, statistics as st, sys
rounds = {}
for line in open(sys.argv[1]):
    m = re.match(r"r=(\d+) .* (syn\w+) (threads=(\d)|pair|read_decode) wall=([\d.]+)(ms)?", line)
    if not m:
        continue
    r, f, what, t, wall, ms = m.groups()
    wall = float(wall) / (1000 if ms else 1)
    rounds.setdefault((f, r), {})[t or what] = wall
for f in sorted({f for f, _ in rounds}):
    rows = [v for (g, _), v in rounds.items() if g == f and {"1", "2", "pair"} <= v.keys()]
    if not rows:
        continue
    speed = [v["1"] / v["2"] for v in rows]
    machine = [2 * v["1"] / v["pair"] for v in rows]
    both = [s for s, m in zip(speed, machine) if m >= 1.9]
    print(f"{f}: {len(rows)} rounds; one thread median {st.median(v['1'] for v in rows):.2f} s, "
          f"two {st.median(v['2'] for v in rows):.2f} s; two-thread speed-up median "
          f"{st.median(speed):.2f}x; cores the machine gave (pair) median {st.median(machine):.2f}; "
          f"rounds with both cores: {len(both)}, their speed-up median "
          + (f"{st.median(both):.2f}x" if both else "-"))
EOF
