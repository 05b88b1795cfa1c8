#!/usr/bin/env bash
# Everything CI runs, in order, going on after a failing stage:
#   make test        unit + end-to-end tests on build/
#   make test-asan   the same on an ASan+UBSan build (build-asan/)
#   make fuzz-ci     every fuzz harness for FUZZ_SECONDS (default 60)
# Prints the passed/failed counts of each stage, then exactly one closing
# line "N passed, N failed" with their sums. Exits 1 when anything failed.
# A stage that fails without a count (a build error, no tests) counts as one
# failure.
set -uo pipefail
cd "$(dirname "$0")/.."

logdir=$(mktemp -d "${TMPDIR:-/tmp}/sd-test-all.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

total_passed=0
total_failed=0
summary=()

# The last "N passed"/"N failed"/"N error" figures of a log (pytest's
# "== 3 failed, 120 passed in 9.1s ==" or our "N passed, N failed").
count() {
    local line
    # Only whole summary lines: a log line such as librdkafka's
    # "127.0.0.1:43871 failed: Connection refused" must not count.
    line=$(grep -E '^(=+ )?[0-9]+ (passed|failed|errors?)(, [0-9]+ [a-z]+)*( in [0-9.]+s.*)?( =+)?$' "$1" | tail -1)
    local p f e
    p=$(echo "$line" | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+' || echo 0)
    f=$(echo "$line" | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+' || echo 0)
    e=$(echo "$line" | grep -Eo '[0-9]+ errors?' | grep -Eo '[0-9]+' || echo 0)
    echo "${p:-0} $((${f:-0} + ${e:-0}))"
}

stage() {
    local name=$1
    shift
    local log="$logdir/$name.log"
    echo "=== $name: $* ==="
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    read -r p f < <(count "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
    summary+=("$(printf '%-10s %5d passed, %5d failed  (exit %d)' "$name" "$p" "$f" "$rc")")
}

stage test make --no-print-directory test
stage test-asan make --no-print-directory test-asan
stage fuzz-ci make --no-print-directory fuzz-ci

echo
echo "=== per stage ==="
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
