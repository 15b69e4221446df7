#!/usr/bin/env bash
# Run synlab's whole test suite on a fresh Debian machine.
#
# As root it first installs what the tests use (tshark for the field
# cross-check, p0f for OS classification of crafted SYNs, tcpdump, nftables,
# iproute2 and ethtool for the network-namespace lab, a headless Chromium for
# the HTML report), then runs the lints and
# `cargo test`. Tests that need root and network namespaces skip with a
# printed reason when not root; under CI (CI=true) they fail instead.
#
# Environment:
#   SYNLAB_TEST_LAB_PREFIX  prefix of the namespaces the lab tests build
#       (default sltest: sltest-NAME-c1, ...). Each test tears down only
#       labs of its own prefix and name, so two runs on one machine (two
#       checkouts, a CI job beside a developer) must use different prefixes:
#       SYNLAB_TEST_LAB_PREFIX=slci scripts/test.sh
#   CI=true  a skipped root-only or tool-dependent test is a failure.
#   SYNLAB_TEST_SUDO=0  as a user, do not raise with sudo: nothing is
#       installed and the root-only tests skip.
# Arguments are passed on to `cargo test`.
#
# The same command serves root and a user: as root it runs as it is (a
# container or CI image often has no sudo at all, and `sudo scripts/test.sh`
# failed there with "sudo: command not found"); as a user it raises itself
# with sudo when sudo is there, keeping the user's PATH and Rust toolchain
# (sudo's secure_path and HOME would hide cargo), and else runs as the user.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ] && [ "${SYNLAB_TEST_SUDO:-1}" != 0 ] && command -v sudo >/dev/null; then
    echo "scripts/test.sh: not root: raising with sudo (SYNLAB_TEST_SUDO=0 runs as this user)"
    exec sudo --preserve-env=CI,SYNLAB_TEST_LAB_PREFIX,CARGO_TARGET_DIR \
        env PATH="$PATH" \
        CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" \
        RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
        SYNLAB_TEST_SUDO=0 \
        "$PWD/scripts/test.sh" "$@"
fi

export SYNLAB_TEST_LAB_PREFIX=${SYNLAB_TEST_LAB_PREFIX:-sltest}
# Namespace names are PREFIX-TEST-ROLE, and scripts/lab.sh takes at most 32
# characters before the role: a short prefix leaves room for the test name.
if ! [[ $SYNLAB_TEST_LAB_PREFIX =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$ ]]; then
    echo "scripts/test.sh: SYNLAB_TEST_LAB_PREFIX '$SYNLAB_TEST_LAB_PREFIX' is invalid" \
        "(letters, digits, '_', '-'; at most 16 characters)" >&2
    exit 2
fi
echo "scripts/test.sh: lab tests use the prefix $SYNLAB_TEST_LAB_PREFIX"

packages=(tshark tcpdump p0f nftables iproute2 ethtool curl python3 procps time)

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# The HTML report's browser test (tests/report.rs) renders the page in
# Debian's chromium-headless-shell, or in chromium where the release has no
# such package. Asked after `apt-get update`, when apt knows the candidates.
browser_package() {
    if apt-cache policy chromium-headless-shell 2>/dev/null | grep -q "Candidate: [0-9]"; then
        echo chromium-headless-shell
    else
        echo chromium
    fi
}

install_packages() {
    local missing=()
    for p in "${packages[@]}"; do
        installed "$p" || missing+=("$p")
    done
    local browser=yes
    installed chromium-headless-shell || installed chromium || browser=
    if [ ${#missing[@]} -eq 0 ] && [ -n "$browser" ]; then
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    [ -n "$browser" ] || missing+=("$(browser_package)")
    echo "scripts/test.sh: installing ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Parquet tests read synlab's files with DuckDB's and pyarrow's Python
# packages (pyarrow's dataset API for the hive-partitioned dataset).
# pip refuses to install into Debian's own python3 (PEP 668) unless told
# --break-system-packages; a python3 of its own (pyenv, venv) takes it plainly.
install_python_modules() {
    if python3 -c 'import duckdb, pyarrow' 2>/dev/null; then
        return
    fi
    if ! python3 -m pip --version >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
    fi
    echo "scripts/test.sh: installing the duckdb and pyarrow Python packages"
    local pip=(python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore)
    "${pip[@]}" duckdb pyarrow 2>/dev/null || "${pip[@]}" --break-system-packages duckdb pyarrow
}

# The Community ID test compares synlab's IDs with the reference
# implementation, Corelight's `communityid` Python package.
install_communityid() {
    if python3 -c 'import communityid' 2>/dev/null; then
        return
    fi
    echo "scripts/test.sh: installing the communityid Python package"
    local pip=(python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore)
    "${pip[@]}" communityid 2>/dev/null || "${pip[@]}" --break-system-packages communityid
}

if [ "$(id -u)" = 0 ]; then
    install_packages
    install_python_modules
    install_communityid
else
    echo "scripts/test.sh: not root: not installing packages; root-only tests will skip"
fi

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
# Release mode: the integration tests run whole commands on real captures and
# the lab tests probe live; debug builds make those needlessly slow.
# tests/lab_live.rs runs the example program panic_with_session (a live
# session that panics); `cargo test` builds examples only under hashed names.
cargo build --release --examples --quiet
cargo test --release --all-targets "$@"
