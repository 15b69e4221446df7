#!/usr/bin/env bash
# Time whole commands side by side on the same large pcap: synlab handshakes
# (table and JSON), tshark reading the same fields, and p0f -r.
#
#   scripts/bench.sh [PACKETS]      (default 3000000)
#
# Needs tshark and p0f (apt-get install tshark p0f) and hyperfine if present
# (otherwise plain `time`). Writes the pcap under ${TMPDIR:-/tmp}.
set -euo pipefail
cd "$(dirname "$0")/.."
packets=${1:-3000000}
pcap=${TMPDIR:-/tmp}/synlab-bench-$packets.pcap

cargo build --release --quiet
[ -f "$pcap" ] || python3 scripts/gen-bench-pcap.py captures/linux-default.pcap "$pcap" "$packets"
ls -l "$pcap"

synlab=target/release/synlab
fields=(-e frame.number -e ip.ttl -e ip.flags.df -e tcp.window_size_value -e tcp.options.mss_val
        -e tcp.options.wscale.shift -e tcp.options.sack_perm -e tcp.flags)
cmds=(
  "$synlab handshakes $pcap > /dev/null"
  "$synlab handshakes --json $pcap > /dev/null"
  "tshark -r $pcap -T fields ${fields[*]} -Y 'tcp.flags.syn==1' > /dev/null"
  "p0f -r $pcap > /dev/null"
)
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs 3 --export-markdown "${TMPDIR:-/tmp}/synlab-bench.md" "${cmds[@]}"
  cat "${TMPDIR:-/tmp}/synlab-bench.md"
else
  for c in "${cmds[@]}"; do
    echo "== $c"
    /usr/bin/time -f "%e s elapsed, %M KiB max RSS" bash -c "$c"
  done
fi
echo "packets: $packets"
