#!/bin/sh
# bench-promptfoo.sh installs promptfoo, the npm package evalpin's replay is
# compared with (cmd/evalpin/promptfoo_bench_test.go), at a pinned version
# into .testbed/promptfoo (once), and prints the path of its executable.
#
#   scripts/bench-promptfoo.sh           # install if needed, print the path
#
# PROMPTFOO_VERSION overrides the pin. It needs node and npm; without them, or
# when the install fails, it says why on stderr and exits 1: make bench then
# skips the comparison.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
# 0.121.20: the newest release whose engines accept node 20 (0.122 wants 22).
version=${PROMPTFOO_VERSION:-0.121.20}
dir="$root/.testbed/promptfoo/$version"
bin="$dir/node_modules/.bin/promptfoo"

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench-promptfoo: $tool is not installed" >&2
		exit 1
	fi
done
if [ ! -x "$bin" ]; then
	echo "installing promptfoo@$version into $dir" >&2
	mkdir -p "$dir"
	# No audit, funding or update notices: the install talks to the registry only.
	if ! npm install --prefix "$dir" "promptfoo@$version" --no-audit --no-fund --loglevel=error >&2; then
		echo "bench-promptfoo: npm install promptfoo@$version failed" >&2
		exit 1
	fi
fi
echo "$bin"
