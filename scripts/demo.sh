#!/usr/bin/env bash
# demo.sh shows evalpin end to end on the real-engine test bed (docs/testbed.md):
# two versions of a tiny generated model served by a real Ollama, their two
# locks, runs that are stored, interrupted and resumed, a lock refusal, and a
# statistical diff and CI gate of the new version against the old.
#
# Usage: scripts/demo.sh            (or: make demo)
#
# Everything lives in a temporary directory (Ollama's HOME and model store,
# the generated models, the database), which is removed on exit, and the
# Ollama server is stopped on exit, however the script ends. The first run
# builds Ollama (cached in .testbed/, about 5 minutes cold); after that the
# demo takes seconds.
#
# Environment:
#   GO             the go command (default go)
#   DEMO_KEEP=1    keep the temporary directory (the database) for a look
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-go}
START=$(date +%s.%N)

if [ -t 1 ]; then
	step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	step() { printf '\n== %s\n' "$*"; }
fi
say() { printf '%s\n' "$*"; }
show() { # show CMD...: print the command, then run it
	printf '$ %s\n' "$*" | sed "s#$EVALPIN#evalpin#g; s#$WORK#\$DEMO#g"
	"$@"
}
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/evalpin-demo.XXXXXX")
OLLAMA_PID=
cleanup() {
	local code=$?
	if [ -n "$OLLAMA_PID" ] && kill -0 "$OLLAMA_PID" 2>/dev/null; then
		# The server leads its own process group, which holds its model runners.
		kill -TERM -- "-$OLLAMA_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$OLLAMA_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL -- "-$OLLAMA_PID" 2>/dev/null || true
		wait "$OLLAMA_PID" 2>/dev/null || true
	fi
	if [ "${DEMO_KEEP:-}" = 1 ]; then
		printf 'demo: kept %s (database: %s/demo.db)\n' "$WORK" "$WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "Build: Ollama from the Go module proxy (cached), evalpin, the model generator"
OLLAMA=$("$ROOT/scripts/testbed.sh" build)
EVALPIN=$WORK/evalpin
(cd "$ROOT" && "$GO" build -o "$EVALPIN" ./cmd/evalpin && "$GO" build -o "$WORK/genmodel" ./internal/testbed/cmd/genmodel)
say "ollama  $OLLAMA ($("$OLLAMA" --version 2>/dev/null | tail -1))"
say "evalpin $("$EVALPIN" version)"

step "Two versions of one model: the same weights, another chat template"
"$WORK/genmodel" -o "$WORK/models/v1" -seed 1 -template chat >/dev/null
"$WORK/genmodel" -o "$WORK/models/v2" -seed 1 -template compact >/dev/null
say "v1: model.gguf sha256 $(sha256sum "$WORK/models/v1/model.gguf" | cut -c1-16)…, template 'chat'"
say "v2: model.gguf sha256 $(sha256sum "$WORK/models/v2/model.gguf" | cut -c1-16)…, template 'compact'"
say "Same weights file, same name on the server: only the chat template drifted."

step "Start Ollama on a free 127.0.0.1 port, in $WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
	echo $((20000 + RANDOM % 20000)))
HOST=127.0.0.1:$PORT
mkdir -p "$WORK/home" "$WORK/ollama-models"
ollama_env=(env -i PATH="$PATH" HOME="$WORK/home" OLLAMA_MODELS="$WORK/ollama-models" OLLAMA_HOST="$HOST" OLLAMA_NO_CLOUD=1 GIN_MODE=release)
setsid "${ollama_env[@]}" "$OLLAMA" serve >"$WORK/server.log" 2>&1 &
OLLAMA_PID=$!
for i in $(seq 1 200); do
	"${ollama_env[@]}" "$OLLAMA" list >/dev/null 2>&1 && break
	kill -0 "$OLLAMA_PID" 2>/dev/null || { tail "$WORK/server.log" >&2; die "ollama exited"; }
	[ "$i" -lt 200 ] || die "ollama did not answer on $HOST within 10s"
	sleep 0.05
done
"${ollama_env[@]}" "$OLLAMA" create tiny-v1 -f "$WORK/models/v1/Modelfile" >/dev/null 2>&1 || die "ollama create tiny-v1 failed"
"${ollama_env[@]}" "$OLLAMA" create tiny-v2 -f "$WORK/models/v2/Modelfile" >/dev/null 2>&1 || die "ollama create tiny-v2 failed"
URL=http://$HOST/v1
say "serving tiny-v1 and tiny-v2 at $URL"

export EVALPIN_DB=$WORK/demo.db
RUN=("$EVALPIN" run --suite testbed --endpoint "$URL" --samples 3 --no-progress)

step "1. Probe: which lock does each model serve, and how does evalpin know?"
show "$EVALPIN" probe --model tiny-v1 "$URL"
LOCK_A=$("$EVALPIN" probe --format json --model tiny-v1 "$URL" | grep -m1 -o '"lock": "[^"]*"' | cut -d'"' -f4)
LOCK_B=$("$EVALPIN" probe --format json --model tiny-v2 "$URL" | grep -m1 -o '"lock": "[^"]*"' | cut -d'"' -f4)
say ""
say "tiny-v1 serves $LOCK_A"
say "tiny-v2 serves $LOCK_B"
[ -n "$LOCK_A" ] && [ -n "$LOCK_B" ] && [ "$LOCK_A" != "$LOCK_B" ] || die "expected two different locks"
say "Two locks: the template change is a different deliverable, though the weights are the same."

step "2. Run the bundled testbed suite (20 cases × 3 samples) against v1, pinned to its lock"
show "${RUN[@]}" --model tiny-v1 --expect-lock "$LOCK_A"

step "3. The same command again: the run is complete, nothing is requested"
show "${RUN[@]}" --model tiny-v1 --expect-lock "$LOCK_A"

step "4. A fresh run of v1, interrupted (SIGINT, as Ctrl-C) and resumed by the same command"
say "\$ evalpin run ... --model tiny-v1 --fresh --concurrency 1   (interrupted as soon as the run is under way)"
"${RUN[@]}" --model tiny-v1 --expect-lock "$LOCK_A" --fresh --concurrency 1 >"$WORK/interrupted.out" 2>"$WORK/interrupted.err" &
RUN_PID=$!
for _ in $(seq 1 400); do
	n=$("$EVALPIN" runs --status running --format json 2>/dev/null | grep -m1 -o '"results": [0-9]*' | grep -o '[0-9]*$' || true)
	[ -n "$n" ] && break # the run exists and is running
	kill -0 "$RUN_PID" 2>/dev/null || break
	sleep 0.02
done
kill -INT "$RUN_PID" 2>/dev/null || true
code=0
wait "$RUN_PID" || code=$?
sed "s#$WORK#\$DEMO#g; s#$EVALPIN#evalpin#g" "$WORK/interrupted.err"
say "exit $code"
if [ "$code" = 130 ]; then
	say "Interrupted: the requests in flight were finished and stored; the run is resumable."
	show "${RUN[@]}" --model tiny-v1 --expect-lock "$LOCK_A"
else
	say "(the run finished before the interrupt reached it)"
	cat "$WORK/interrupted.out"
fi

step "5. Two runs of one lock: every output identical (greedy decoding, fixed seed)"
say "(Latency may differ: part of run 2 was sent one request at a time, and the engine queues the rest.)"
show "$EVALPIN" diff --baseline 1 --candidate 2

step "6. --expect-lock refuses v2: the endpoint serves another lock (exit 3, no run created)"
code=0
show "${RUN[@]}" --model tiny-v2 --expect-lock "$LOCK_A" || code=$?
say "exit $code"
[ "$code" = 3 ] || die "expected exit 3 (lock refused), got $code"

step "7. Run v2, pinned to its own lock"
show "${RUN[@]}" --model tiny-v2 --expect-lock "$LOCK_B"

step "8. Diff v2 against v1, by lock: what changed, and does it matter?"
show "$EVALPIN" diff --baseline "$LOCK_A" --candidate "$LOCK_B"

step "9. Gate v2 against v1 for CI (exit 1 on a regression)"
say "The default policy gates pass rates only: a new model changes outputs by design."
code=0
show "$EVALPIN" gate --baseline "$LOCK_A" --candidate "$LOCK_B" || code=$?
say "exit $code"
say ""
say "v2 was meant to be v1 repackaged, so any drift beyond the noise floor is a regression:"
cat >"$WORK/repackaged.yaml" <<'POLICY'
# A repackaging must not change what the model says.
alpha: 0.05
max_drift: 0.05   # fail when outputs change significantly more than repeats do, by > 5 pp
POLICY
sed 's/^/    /' "$WORK/repackaged.yaml"
code=0
show "$EVALPIN" gate --baseline "$LOCK_A" --candidate "$LOCK_B" --policy "$WORK/repackaged.yaml" || code=$?
say "exit $code"
[ "$code" = 1 ] || { echo "demo: the gate should have failed (exit 1), got $code" >&2; exit 1; }

step "10. The history"
show "$EVALPIN" runs

say ""
say "demo finished in $(awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
