#!/usr/bin/env bash
# Runs every test of the given test binaries in a process of its own (redis-rs's block_on_all
# installs a process-wide panic hook), two at a time, under the protocol in $PROTOCOL.
# Prints one line per test: "pass NAME spans=N" or "FAIL NAME"; logs go to $LOGS/.
# Usage: run-each.sh LOGS BINARY... (a test list on stdin restricts the run to it)
set -uo pipefail
logs=$1; shift
mkdir -p "$logs"
run_one() {
  binary=$1; name=$2; logs=$3
  log="$logs/$(basename "$binary" | sed 's/-[0-9a-f]*$//').$name.log"
  if timeout 120 "$binary" --exact "$name" --nocapture --test-threads=1 >"$log" 2>&1; then
    echo "pass $(basename "$binary" | sed 's/-[0-9a-f]*$//')::$name spans=$(grep -c '^redis-trace-span: ' "$log")"
  else
    echo "FAIL $(basename "$binary" | sed 's/-[0-9a-f]*$//')::$name"
  fi
}
export -f run_one
only=""
if [ ! -t 0 ]; then only=$(cat); fi
for binary in "$@"; do
  "$binary" --list --format terse 2>/dev/null | sed -n 's/: test$//p' | while read -r name; do
    short="$(basename "$binary" | sed 's/-[0-9a-f]*$//')::$name"
    if [ -z "$only" ] || grep -qxF "$short" <<<"$only"; then
      printf '%s\t%s\n' "$binary" "$name"
    fi
  done
done | xargs -P 2 -d '\n' -n 1 bash -c 'IFS=$'"'"'\t'"'"' read -r b n <<<"$0"; run_one "$b" "$n" "'"$logs"'"'
