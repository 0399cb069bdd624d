#!/usr/bin/env bash
# demo.sh tells evalpin's three uses end to end on the real-engine test bed
# (docs/testbed.md): a real Ollama serving the drill model, a tiny llama the
# project trained to answer five drills (its weights are committed):
#   1. the CI gate on an upgrade: the package drifts under the same name, and
#      one command (evalpin gate) probes it, runs the suite at the baseline's
#      settings and compares: a re-quantization passes (a few outputs change,
#      within the policy), a template change fails;
#   2. incident playback: answers that used to be right, played back under the
#      old lock and, side by side, under today's;
#   3. forks side by side: F16, Q8_0 and Q4_K_M packagings compared at once.
# No id is pasted: runs are named by their numbers, locks by short prefixes
# the commands print.
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
	printf '$ %s\n' "$*" | sed "s#$EVALPIN#evalpin#g; s#$WORK#\$DEMO#g; s#$ROOT/##g"
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
(cd "$ROOT" && "$GO" build -o "$EVALPIN" ./cmd/evalpin && "$GO" build -o "$WORK/drillmodel" ./internal/testbed/cmd/drillmodel)
say "ollama  $OLLAMA ($("$OLLAMA" --version 2>/dev/null | tail -1))"
say "evalpin $("$EVALPIN" version)"

step "The drill model: a tiny llama trained by the project to answer five drills (docs/testbed.md)"
"$WORK/drillmodel" -o "$WORK/models/f16" -dtype f16 >/dev/null
"$WORK/drillmodel" -o "$WORK/models/nosep" -dtype f16 -template drill-nosep >/dev/null
"$WORK/drillmodel" -o "$WORK/models/stop" -dtype f16 -stop 0 >/dev/null
say "f16:   model.gguf sha256 $(sha256sum "$WORK/models/f16/model.gguf" | cut -c1-16)…, the trained weights in F16"
say "q4:    the same package re-quantized by Ollama to Q4_K_M (ollama create --quantize q4_K_M)"
say "nosep: the F16 weights with a chat template that drops </s> after a system message"
say "stop:  the F16 weights with a Modelfile that adds a stop sequence, \"0\" (a community fork's)"
SUITE=$ROOT/suites/drill/drill.yaml

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
create() { # create NAME DIR [QUANTIZATION]
	(cd "$WORK/models/$2" && "${ollama_env[@]}" "$OLLAMA" create "$1" ${3:+--quantize "$3"} -f Modelfile >/dev/null 2>&1) || die "ollama create $1 failed"
}
URL=http://$HOST/v1
say "Ollama serves at $URL"

export EVALPIN_DB= # the project file names the database
PROJECT=$WORK/project
mkdir -p "$PROJECT"
cd "$PROJECT"
ev() { "$EVALPIN" "$@"; }
code=0
expect() { # expect CODE: the last command's exit
	say "exit $code"
	[ "$code" = "$1" ] || die "expected exit $1, got $code"
	code=0
}

step "1. The CI gate on an upgrade"
create drill f16
say "The team serves the F16 package as 'drill' and keeps the project's defaults in evalpin.yaml:"
show "$EVALPIN" init --endpoint "$URL" --model drill --suite "$SUITE" --db .evalpin/history.db
cat >>evalpin.yaml <<'YAML'

# Added by hand: the gate's policy, the lineage, the reports.
lineage: "baselines/lineage.jsonl"
policy: "repackaged.yaml"
reports: ["reports/gate.md", "reports/junit.xml"]
YAML
cat >repackaged.yaml <<'POLICY'
# A repackaging must not change what the model says.
alpha: 0.05
max_drift: 0.05   # fail when outputs change significantly more than repeats do, by > 5 pp
POLICY
sed -n '/Added by hand/,$p' evalpin.yaml | sed 's/^/    /'
say ""
say "Run the 400-case suite twice (the second run is the noise floor between runs that a repackaging"
say "gate needs), record the lock as the track's current one, and write the baseline file CI will use:"
show "$EVALPIN" run --no-progress >/dev/null
show "$EVALPIN" run --fresh --no-progress >/dev/null
show "$EVALPIN" promote 1 --note "F16 accepted"
show "$EVALPIN" baseline accept 1 --baseline baselines/drill.jsonl
say ""
say "An upgrade lands under the same name: the package re-quantized to Q4_K_M."
create drill f16 q4_K_M
say "One command finds the new lock, takes the previous lock's run as the baseline, runs the suite at its"
say "settings, and compares, against the noise floor between the two F16 runs:"
show "$EVALPIN" gate --no-progress || code=$?
say "exit $code"
code=0
say ""
say "Then a template change lands under the same name: the F16 weights, </s> dropped after a system message."
create drill nosep
show "$EVALPIN" gate --no-progress || code=$?
say "exit $code"
code=0
say "The reports CI keeps: $(ls reports | tr '\n' ' ')"
show "$EVALPIN" locks

step "2. Incident playback: last week's answers, under the lock that gave them"
create drill-f16 f16
say "Users report answers of today's 'drill' that used to be right: the cases whose answers the diff of"
say "run 1 and run 4 lists as flipped. Play two back under the old lock (run 1's), served again as"
say "drill-f16, and ask today's 'drill' (run 4's lock) the same, side by side:"
CASES=$(ev diff --baseline 1 --candidate 4 --format json | python3 -c 'import json, sys; print(",".join(f["case_id"] for f in json.load(sys.stdin)["flips"][:2]))')
[ -n "$CASES" ] || CASES=lookup-001,lookup-002
show "$EVALPIN" replay --lock 1 --cases "$CASES" --endpoint "$URL" --model drill-f16 --against-endpoint "$URL" --against 4 --no-progress || code=$?
expect 0

step "3. Forks side by side: the F16 package, its Q4_K_M re-quantization and a community fork, each run labelled"
create drill-q4 f16 q4_K_M
create drill-community stop
for fork in f16:drill-f16 q4_K_M:drill-q4 community:drill-community; do
	show "$EVALPIN" run --model "${fork#*:}" --label "fork=${fork%%:*}" --no-progress >/dev/null
done
show "$EVALPIN" compare fork=f16 fork=q4_K_M fork=community --suite drill

step "What you type next"
say "  evalpin init --endpoint URL --suite FILE   a project file for your model"
say "  evalpin run && evalpin baseline accept 1   a baseline, committed to git"
say "  evalpin gate                               in CI, on every upgrade (docs/ci.md)"
say "  evalpin replay --lock OLD --cases ...      when a user reports an answer"
say "  evalpin compare fork=a fork=b --suite S    when forks compete"

say ""
say "demo finished in $(awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
