#!/usr/bin/env bash
# Run the whole test suite against one build directory:
#   bash scripts/run-tests.sh [BUILD]     (default: build)
# Prepares the test support (scripts/test-support.sh, cached), then runs
# pytest over tests/: every C unit test as its own case (tests/test_unit.py)
# and the end-to-end tests (tests/e2e/). pytest's closing line is the
# summary. Exits non-zero when anything failed, and also when pytest
# collected no test at all (its exit code 5): a suite that ran nothing has
# not passed.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}

bash scripts/test-support.sh

# Sanitizer reports must not pass for the exit code 1 that a CLI test expects
# from a refused file: give them exit codes of their own.
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-exitcode=87:print_stacktrace=1:halt_on_error=1}
export SD_BUILD=$BUILD

set +e
# tests/support holds helpers and node_modules, no tests: not collected.
.cache/venv/bin/python -m pytest tests --build "$BUILD" --ignore=tests/support \
    -p no:cacheprovider -q -rfE --color=no "${@:2}"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "run-tests: pytest collected no tests: counted as a failure" >&2
    exit 1
fi
exit "$rc"
