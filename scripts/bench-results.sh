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
scripts/bench-runner.sh -install >/dev/null 2>&1 || echo "bench: skipped: hey could not be installed: the comparisons with hey" >&2
# promptfoo (npm, pinned in scripts/bench-promptfoo.sh) for BenchmarkRunVersusPromptfoo.
if promptfoo=$(scripts/bench-promptfoo.sh); then
	export EVALPIN_PROMPTFOO="$promptfoo"
else
	echo "bench: skipped: promptfoo could not be installed (see above): the comparison with promptfoo" >&2
fi
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)
# The 1M-case runs of BenchmarkScale take minutes: the packages' default
# 10-minute timeout is too short for cmd/evalpin's benchmarks together.
cmd="EVALPIN_OLLAMA=.testbed/bin/ollama EVALPIN_PROMPTFOO=\$(scripts/bench-promptfoo.sh) $GO test -run='^\$' -bench=. -benchtime=$benchtime -benchmem -timeout=60m -v ./..."
status=0
EVALPIN_OLLAMA=$(ls "$root/.testbed/bin/ollama" 2>/dev/null || true) "$GO" test -run='^$' -bench=. -benchtime="$benchtime" -benchmem -timeout=60m -v ./... | tee "$raw" || status=$?
load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)
# What was skipped (go test -v prints a skipped benchmark's message before
# its "--- SKIP: BenchmarkX"), and the parts of a benchmark it skipped itself,
# logged as "skipped: ...".
skipped=$(awk '
	/^ +[^ ]+\.go:[0-9]+: / { last = $0; sub(/^ +[^ ]+\.go:[0-9]+: /, "", last); if (last ~ /^skipped: /) print last }
	/^--- SKIP: / { print $3 ": " last }' "$raw" | awk '!seen[$0]++')
[ -n "$promptfoo" ] || skipped=$(printf '%s\n%s' "promptfoo could not be installed (scripts/bench-promptfoo.sh)" "$skipped")
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
	echo "Scaling (BenchmarkScale, one run of each command at each size against the same stub; seconds of wall time and"
	echo "MB of peak RSS, absolute figures of this run, beside the ratios above):"
	echo
	echo "| command | figure | value |"
	echo "|---|---|---:|"
	awk '
		/^BenchmarkScale/ {
			for (i = 3; i + 1 <= NF; i += 2) {
				v = $i; u = $(i + 1)
				if (u ~ /-(s|MB)-[0-9]+[kM]?$/) { c = u; sub(/-(s|MB)-[0-9]+[kM]?$/, "", c); f = substr(u, length(c) + 2); printf "| %s | %s | %s |\n", c, f, v }
			}
		}' "$raw"
	echo
	echo "Over budget or below target in this run (some benchmarks fail on a missed budget, others only report it):"
	echo
	if grep -q -e 'over the budget' -e 'below target' "$raw"; then
		grep -e 'over the budget' -e 'below target' "$raw" | sed 's/^ */- /'
	else
		echo "- none"
	fi
	echo
	echo "Skipped in this run:"
	echo
	if [ -n "$skipped" ]; then
		printf '%s\n' "$skipped" | sed '/^$/d; s/^/- /'
	else
		echo "- none"
	fi
} >bench/RESULTS.md
[ -z "$skipped" ] || printf '%s\n' "$skipped" | sed '/^$/d; s/^/bench: skipped: /' >&2
echo "bench: wrote bench/RESULTS.md" >&2
exit "$status"
