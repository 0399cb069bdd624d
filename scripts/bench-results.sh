#!/usr/bin/env bash
# bench-results.sh runs evalpin's benchmarks once and writes bench/RESULTS.md:
# one table of every figure a benchmark reports as a ratio or against a
# budget (its unit names "ratio", "budget" or "x-"), each measured in this
# run, with the machine, its load average, and the command that reproduces
# it. The README quotes this file; nothing in it is typed by hand.
#
#   scripts/bench-results.sh            (make bench)
#   BENCHTIME=5x scripts/bench-results.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO=${GO:-go}
benchtime=${BENCHTIME:-1x}
scripts/bench-runner.sh -install >/dev/null 2>&1 || echo "bench: hey could not be installed: the comparisons with hey are skipped" >&2
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)
cmd="EVALPIN_OLLAMA=.testbed/bin/ollama $GO test -run='^\$' -bench=. -benchtime=$benchtime -benchmem ./..."
status=0
EVALPIN_OLLAMA=$(ls "$root/.testbed/bin/ollama" 2>/dev/null || true) "$GO" test -run='^$' -bench=. -benchtime="$benchtime" -benchmem ./... | tee "$raw" || status=$?
load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)
{
	echo "# Benchmark results"
	echo
	echo "Written by \`make bench\` (scripts/bench-results.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'); every figure below was"
	echo "measured in that one run. Ratios compare two things measured in the same run on the same machine,"
	echo "so that a shared, noisy machine moves both; budgets divide a measure by its target (≤ 1 meets it)."
	echo
	echo "| machine | |"
	echo "|---|---|"
	echo "| CPU | $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //') × $(nproc) |"
	echo "| OS | $(uname -sr) $(uname -m) |"
	echo "| Go | $("$GO" env GOVERSION) |"
	echo "| load average (1, 5, 15 min) | before $load_before; after $load_after |"
	echo "| reproduce | \`$cmd\` |"
	echo
	echo "| package | benchmark | figure | value |"
	echo "|---|---|---|---:|"
	awk '
		/^pkg: / { pkg = $2; sub("github.com/evalpin/evalpin/", "", pkg) }
		/^Benchmark/ {
			name = $1; sub(/-[0-9]+$/, "", name)
			for (i = 3; i + 1 <= NF; i += 2) {
				v = $i; u = $(i + 1)
				if (u ~ /ratio|budget|^x-/) printf "| %s | %s | %s | %s |\n", pkg, name, u, v
			}
		}' "$raw"
	echo
	echo "Over budget or below target in this run (a benchmark fails when a budget is missed):"
	echo
	if grep -q -e 'over the budget' -e 'below target' "$raw"; then
		grep -e 'over the budget' -e 'below target' "$raw" | sed 's/^ */- /'
	else
		echo "- none"
	fi
} >bench/RESULTS.md
echo "bench: wrote bench/RESULTS.md" >&2
exit "$status"
