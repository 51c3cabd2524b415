#!/usr/bin/env bash
# Runs every test of the given test binaries in a process of its own (redis-rs's block_on_all
# installs a process-wide panic hook), two at a time, under the protocol in $PROTOCOL.
# Prints one line per test: "pass SUITE::NAME spans=N" or "FAIL SUITE::NAME"; logs go to
# LOGS/SUITE.NAME.log. Usage: run-each.sh LOGS BINARY... (a test list on stdin restricts the
# run to it). Test names hold no spaces.
set -uo pipefail
export RUN_EACH_LOGS=$1; shift
mkdir -p "$RUN_EACH_LOGS"
run_one() { # BINARY SUITE NAME
  local log="$RUN_EACH_LOGS/$2.$3.log"
  if timeout 120 "$1" --exact "$3" --nocapture --test-threads=1 >"$log" 2>&1; then
    echo "pass $2::$3 spans=$(grep -c '^redis-trace-span: ' "$log")"
  else
    echo "FAIL $2::$3"
  fi
}
export -f run_one
only=""
if [ ! -t 0 ]; then only=$(cat); fi
for binary in "$@"; do
  suite=$(basename "$binary" | sed 's/-[0-9a-f]*$//')
  "$binary" --list --format terse 2>/dev/null | sed -n 's/: test$//p' | while read -r name; do
    if [ -z "$only" ] || grep -qxF "$suite::$name" <<<"$only"; then
      echo "$binary $suite $name"
    fi
  done
done | xargs -P 2 -n 3 bash -c 'run_one "$@"' run_one
