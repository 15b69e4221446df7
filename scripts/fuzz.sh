#!/usr/bin/env bash
# Coverage-guided fuzzing of synlab's parsers with cargo fuzz (libFuzzer).
#
#   scripts/fuzz.sh [RUNS] [SECONDS] [TARGET...]
#
# RUNS executions (default 10000000) or SECONDS of wall time (default 0: no
# limit) per target, whichever ends first; targets run one after another with
# one job, so the machine stays usable. TARGET defaults to all of them:
# capture, live_frame, rule, profile_toml, p0f, p0f_db, survey, tracker.
#
# Each target's growing corpus is fuzz/corpus/TARGET (not committed); the
# committed seeds in fuzz/seeds/TARGET are read too. A crash, an allocation
# over 512 MiB (a memory bomb), or one input taking over 10 s is written to
# fuzz/artifacts/TARGET/ and ends that target with an error; the log is
# fuzz/logs/TARGET.log. Minimise a finding with
#   cargo +nightly fuzz tmin TARGET fuzz/artifacts/TARGET/crash-...
# (from fuzz/), then add it as a regression test under tests/.
#
# FUZZ_SANITIZER picks cargo fuzz's sanitizer (default address). ASan finds
# out-of-bounds reads in unsafe code (etherparse's was one) but costs a lot:
# the profile loader ran 493 exec/s under ASan and 40,800 exec/s with
# FUZZ_SANITIZER=none, so the 10-million-run counts are reached with none and
# ASan runs are for shorter, targeted sessions.
#
# FUZZ_FLAGS adds libFuzzer flags, e.g. FUZZ_FLAGS="-fork=1 -ignore_crashes=1"
# to go on past a finding (one child process at a time) and collect them all.
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

runs=${1:-10000000}
seconds=${2:-0}
shift $(( $# > 2 ? 2 : $# ))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(capture live_frame rule profile_toml p0f p0f_db survey tracker)
fi

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "scripts/fuzz.sh: needs cargo-fuzz and a nightly toolchain (cargo install cargo-fuzz)" >&2
    exit 2
fi

mkdir -p logs
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "scripts/fuzz.sh: $t: $runs runs, ${seconds}s limit (0: none), log fuzz/logs/$t.log"
    if cargo +nightly fuzz run -s "${FUZZ_SANITIZER:-address}" "$t" "corpus/$t" "seeds/$t" -- \
        -runs="$runs" -max_total_time="$seconds" \
        -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -max_len=8192 \
        -print_final_stats=1 ${FUZZ_FLAGS:-} >"logs/$t.log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "logs/$t.log" || true
        grep -E '#[0-9]+.*(DONE|cov:)' "logs/$t.log" | tail -1 || true
    else
        status=1
        echo "scripts/fuzz.sh: $t found something: see fuzz/logs/$t.log and fuzz/artifacts/$t/" >&2
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "logs/$t.log" | head -5 >&2 || true
    fi
done
exit $status
