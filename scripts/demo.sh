#!/usr/bin/env bash
# demo.sh tells evalpin's three uses end to end on the real-engine test bed
# (docs/testbed.md), a real Ollama serving tiny generated models:
#   1. the CI gate on an upgrade: a model drifts under the same name, and one
#      command (evalpin gate) probes it, runs the suite at the baseline's
#      settings, compares and fails it;
#   2. incident playback: cases answered under the old lock, played back
#      against it and against the new one side by side;
#   3. forks side by side: three packagings of one model compared at once.
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

step "Three packagings of one model"
"$WORK/genmodel" -o "$WORK/models/v1" -seed 1 -template chat >/dev/null
"$WORK/genmodel" -o "$WORK/models/v2" -seed 1 -template compact >/dev/null
"$WORK/genmodel" -o "$WORK/models/f32" -seed 1 -template chat -dtype f32 >/dev/null
say "v1:  model.gguf sha256 $(sha256sum "$WORK/models/v1/model.gguf" | cut -c1-16)…, F16, template 'chat'"
say "v2:  model.gguf sha256 $(sha256sum "$WORK/models/v2/model.gguf" | cut -c1-16)…, F16, template 'compact' (the same weights file)"
say "f32: model.gguf sha256 $(sha256sum "$WORK/models/f32/model.gguf" | cut -c1-16)…, F32, template 'chat' (the same weights, wider)"

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
create() { "${ollama_env[@]}" "$OLLAMA" create "$1" -f "$WORK/models/$2/Modelfile" >/dev/null 2>&1 || die "ollama create $1 failed"; }
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
create tiny v1
say "The team serves v1 as 'tiny' and keeps the project's defaults in evalpin.yaml:"
show "$EVALPIN" init --endpoint "$URL" --model tiny --suite testbed --db .evalpin/history.db
cat >>evalpin.yaml <<'YAML'

# Added by hand: the gate's policy, the lineage, the reports.
lineage: "baselines/lineage.jsonl"
policy: "repackaged.yaml"
reports: ["reports/gate.md", "reports/junit.xml"]
samples: 3
YAML
cat >repackaged.yaml <<'POLICY'
# A repackaging must not change what the model says.
alpha: 0.05
max_drift: 0.05   # fail when outputs change significantly more than repeats do, by > 5 pp
POLICY
sed -n '/Added by hand/,$p' evalpin.yaml | sed 's/^/    /'
say ""
say "Run the suite against v1 twice (the second run is the noise floor between runs that a repackaging"
say "gate needs), record v1 as the track's current lock, and write the baseline file CI will use:"
show "$EVALPIN" run --no-progress >/dev/null
show "$EVALPIN" run --fresh --no-progress >/dev/null
show "$EVALPIN" promote 1 --note "v1 accepted"
show "$EVALPIN" baseline accept 1 --baseline baselines/testbed.jsonl
say ""
say "An upgrade lands under the same name: v2, the same weights with another chat template."
create tiny v2
say "One command finds the new lock, takes the previous lock's run as the baseline, runs the suite at its"
say "settings, and compares, against the noise floor between v1's two runs:"
show "$EVALPIN" gate --no-progress || code=$?
expect 1
say "The reports CI keeps: $(ls reports | tr '\n' ' ')"
show "$EVALPIN" locks

step "2. Incident playback: last week's answers, under the lock that gave them"
create tiny-v1 v1
say "A user reports two answers of v1 (run 1, cases sea-story and sea-boat). Serve v1 again and play them"
say "back under its lock; the same endpoint serves today's 'tiny' (v2, run 3's lock), asked side by side:"
show "$EVALPIN" replay --lock 1 --cases sea-story,sea-boat --endpoint "$URL" --model tiny-v1 --against-endpoint "$URL" --against 3 --no-progress || code=$?
expect 0

step "3. Forks side by side: three packagings, each run labelled"
create tiny-f32 f32
create tiny-v2 v2
for fork in v1:tiny-v1 v2:tiny-v2 f32:tiny-f32; do
	show "$EVALPIN" run --model "${fork#*:}" --label "fork=${fork%%:*}" --no-progress >/dev/null
done
show "$EVALPIN" compare fork=v1 fork=v2 fork=f32 --suite testbed

step "What you type next"
say "  evalpin init --endpoint URL --suite FILE   a project file for your model"
say "  evalpin run && evalpin baseline accept 1   a baseline, committed to git"
say "  evalpin gate                               in CI, on every upgrade (docs/ci.md)"
say "  evalpin replay --lock OLD --cases ...      when a user reports an answer"
say "  evalpin compare fork=a fork=b --suite S    when forks compete"

say ""
say "demo finished in $(awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
