#!/usr/bin/env bash
# Time `synlab handshakes --json` against p0f -r, tshark (5 SYN fields),
# huginn-net's TCP analysis and `cat` on the benchmark captures, with synlab's
# peak RSS and how soon its first attempt comes out
# (`synlab handshakes F --jsonl | head -1`). Each tool runs BENCH_RUNS times
# (default 3), interleaved (one round runs every tool once), and the median is
# shown: on a shared or virtual machine one run can be 30% off.
#
#   scripts/bench.sh [CAPTURE...]     (default: all four below)
#
# Captures (generated under ${BENCH_DIR:-/tmp/synlab-bench} on first use,
# never committed; see scripts/gen-bench-pcap.py):
#   syn20k    SYN-heavy, 240k packets / 20k handshakes (captures/many-attempts.pcap repeated)
#   syn200k   SYN-heavy, 2.4M packets / 200k handshakes
#   bench3m   the project's bench file, 3M packets / 88k handshakes (captures/linux-default.pcap)
#   flood2m   2M SYNs never answered (memory: every attempt reported, flat RSS)
#
# huginn-net: scripts/huginn-bench/ is a small standalone driver (huginn-net-tcp
# and huginn-net-db 2.2.1, pinned by its Cargo.lock) that matches every SYN and
# SYN+ACK against the p0f database and prints one line for each. It is built
# here on first use into $BENCH_DIR/huginn-target (needs crates.io once, no
# system library: pcap-file and pnet are pure Rust for reading a file).
#
# Env: SYNLAB=path/to/binary (default target/dist/synlab: release with thin LTO, built here),
# BENCH_RUNS=N runs per tool, BENCH_TSHARK=0 skips tshark (minutes on the
# large files), BENCH_HUGINN=0
# skips huginn-net (and its build). A skipped tool's columns show "-".
# Needs p0f, tshark and GNU time (/usr/bin/time). Numbers are elapsed seconds;
# ratios are tool / synlab (above 1: synlab is faster), but synlab / cat.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BENCH_DIR:-/tmp/synlab-bench}
mkdir -p "$dir"
if [ -z "${SYNLAB:-}" ]; then
  cargo build --profile dist --quiet
  SYNLAB=target/dist/synlab
fi
huginn=$dir/huginn-target/release/huginn-bench
if [ "${BENCH_HUGINN:-1}" = 1 ] && [ ! -x "$huginn" ]; then
  echo "building the huginn-net driver (once, into $dir/huginn-target; BENCH_HUGINN=0 skips it)" >&2
  cargo build --release --quiet --locked --manifest-path scripts/huginn-bench/Cargo.toml \
    --target-dir "$dir/huginn-target"
fi
captures=("$@")
[ ${#captures[@]} -gt 0 ] || captures=(syn20k syn200k bench3m flood2m)

generate() { # name -> path, made on first use
  local f="$dir/$1.pcap"
  if [ ! -f "$f" ]; then
    case $1 in
      syn20k) python3 scripts/gen-bench-pcap.py captures/many-attempts.pcap "$f" 240000 ;;
      syn200k) python3 scripts/gen-bench-pcap.py captures/many-attempts.pcap "$f" 2400000 ;;
      bench3m) python3 scripts/gen-bench-pcap.py captures/linux-default.pcap "$f" 3000000 ;;
      flood2m) python3 scripts/gen-bench-pcap.py --flood captures/linux-default.pcap "$f" 2000000 ;;
      *) echo "unknown capture $1" >&2; exit 2 ;;
    esac >&2
  fi
  echo "$f"
}

# run CMD...: prints "SECONDS PEAK_KIB" of one run, output discarded.
run() {
  /usr/bin/time -f "%e %M" -o "$dir/time.out" "$@" > /dev/null 2> /dev/null || true
  tail -1 "$dir/time.out"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }

# cells SECONDS SYNLAB_SECONDS: "| T s | Rx" for a timed tool, "| - | -" for a skipped one (SECONDS "-").
cells() { if [ "$1" = - ]; then echo "| - | -"; else echo "| $1 s | $(ratio "$1" "$2")"; fi; }

first_attempt() { # seconds until the first JSON line is out, through | head -1
  local start end
  start=$(date +%s.%N)
  "$SYNLAB" handshakes "$1" --jsonl | head -1 > /dev/null
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}

fields=(-e frame.number -e ip.ttl -e tcp.window_size_value -e tcp.options.mss_val -e tcp.options.wscale.shift)
echo "| capture | synlab --json | peak RSS | first attempt (\`| head -1\`) | p0f -r | vs p0f | tshark | vs tshark | huginn-net | vs huginn-net | cat | synlab / cat |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

runs=${BENCH_RUNS:-3}
for name in "${captures[@]}"; do
  pcap=$(generate "$name")
  s_all=() p_all=() t_all=() h_all=() c_all=() f_all=()
  s_kib=0
  for _ in $(seq "$runs"); do
    read -r sec kib < <(run "$SYNLAB" handshakes "$pcap" --json)
    s_all+=("$sec")
    [ "$kib" -gt "$s_kib" ] && s_kib=$kib
    f_all+=("$(first_attempt "$pcap")")
    read -r sec _ < <(run p0f -r "$pcap")
    p_all+=("$sec")
    if [ "${BENCH_TSHARK:-1}" = 1 ]; then
      read -r sec _ < <(run tshark -r "$pcap" -Y 'tcp.flags.syn==1' -T fields "${fields[@]}")
      t_all+=("$sec")
    fi
    if [ "${BENCH_HUGINN:-1}" = 1 ]; then
      read -r sec _ < <(run "$huginn" "$pcap")
      h_all+=("$sec")
    fi
    read -r sec _ < <(run cat "$pcap")
    c_all+=("$sec")
  done
  s_sec=$(median "${s_all[@]}")
  p_sec=$(median "${p_all[@]}")
  t_sec=-
  [ ${#t_all[@]} -eq 0 ] || t_sec=$(median "${t_all[@]}")
  h_sec=-
  [ ${#h_all[@]} -eq 0 ] || h_sec=$(median "${h_all[@]}")
  c_sec=$(median "${c_all[@]}")
  first=$(median "${f_all[@]}")
  echo "| $name | ${s_sec} s | $((s_kib / 1024)) MB | ${first} s $(cells "$p_sec" "$s_sec") $(cells "$t_sec" "$s_sec") $(cells "$h_sec" "$s_sec") | ${c_sec} s | $(ratio "$s_sec" "$c_sec") |"
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
fuzz=$(pgrep -fc 'cargo-fuzz|fuzz run' || true)
echo
echo "medians of $runs interleaved runs; load average $load; background fuzz processes: $fuzz; $(nproc) cores"
