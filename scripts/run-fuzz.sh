#!/usr/bin/env bash
# Run every libFuzzer harness of build-fuzz/ (built by `make fuzz`) for
# SECONDS seconds each:
#   bash scripts/run-fuzz.sh [SECONDS]     (default 60)
# Each harness starts from a temporary copy of its seed corpus
# tests/fuzz/corpus/<harness>/, so the committed corpus never grows. A crash,
# leak, timeout (-timeout=10) or memory blow-up (-rss_limit_mb=2048) fails
# the harness; its log tail is printed and the reproducer kept in
# build-fuzz/artifacts/<harness>/. Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}

passed=0
failed=0
harnesses=()
for h in build-fuzz/fuzz_*; do
    [ -f "$h" ] && [ -x "$h" ] && harnesses+=("$h")
done
if [ ${#harnesses[@]} -eq 0 ]; then
    echo "run-fuzz: no harness in build-fuzz/ (run make fuzz)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sd-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

for h in "${harnesses[@]}"; do
    name=$(basename "$h")
    corpus="$work/$name/corpus"
    artifacts="build-fuzz/artifacts/$name"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "tests/fuzz/corpus/$name" ]; then
        cp -r "tests/fuzz/corpus/$name/." "$corpus/"
    fi
    log="$work/$name/log"
    "$h" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" -print_final_stats=0 "$corpus" >"$log" 2>&1
    rc=$?
    runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -1 | grep -Eo '[0-9]+' || true)
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok   $name (${runs:-?} runs in ${SECONDS_EACH}s)"
    else
        failed=$((failed + 1))
        echo "FAIL $name (exit $rc; reproducer in $artifacts/)"
        tail -n 40 "$log" | sed 's/^/    /'
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
