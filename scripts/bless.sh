#!/usr/bin/env bash
# Rewrite the golden files under tests/golden/ from the current build, for a
# deliberate change of output. Review `git diff tests/golden` before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
SYNLAB_BLESS=1 cargo test --release --test golden "$@"
git status --short tests/golden
