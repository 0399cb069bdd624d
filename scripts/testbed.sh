#!/usr/bin/env bash
# testbed.sh builds and runs evalpin's real-engine test bed: an Ollama server
# built from the Go module proxy, serving tiny llama models that the project
# generates itself (internal/testbed/cmd/genmodel). See docs/testbed.md.
#
# Usage:
#   scripts/testbed.sh build          build Ollama into .testbed/bin (cached), print its path
#   scripts/testbed.sh model DIR [genmodel flags]
#                                     write DIR/model.gguf and DIR/Modelfile
#   scripts/testbed.sh drill DIR [drillmodel flags]
#                                     write the trained drill model's DIR/model.gguf and DIR/Modelfile
#   scripts/testbed.sh train [train.py flags]
#                                     retrain the drill model into internal/testbed/testdata/drill
#                                     (`make model`; installs python3-torch, python3-numpy, OpenBLAS)
#   scripts/testbed.sh drill-diff [DIR]
#                                     serve the drill model's variants (F32, F16, Q8_0, Q4_K_M,
#                                     template and penalty drifts) on a private server, run the
#                                     drill suite on each with evalpin, diff each against F16
#   scripts/testbed.sh up             start a server in the background with two models,
#                                     tiny-v1 (seed 1) and tiny-v2 (seed 2); print its /v1 base URL
#   scripts/testbed.sh down           stop the server that `up` started
#   scripts/testbed.sh env            print the variables that point the tests at the binary
#   scripts/testbed.sh measure [N]    build, then time generate/start/create/completions N times
#   scripts/testbed.sh times          print the recorded set-up times
#
# Environment:
#   OLLAMA_VERSION   Ollama module version to build (default v0.17.4)
#   TESTBED_DIR      where outputs go (default <repo>/.testbed)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OLLAMA_VERSION=${OLLAMA_VERSION:-v0.17.4}
TESTBED_DIR=${TESTBED_DIR:-$ROOT/.testbed}
BIN_DIR=$TESTBED_DIR/bin
OLLAMA=$BIN_DIR/ollama
STAMP=$BIN_DIR/ollama.stamp
TIMES=$TESTBED_DIR/times.log
RUN_DIR=$TESTBED_DIR/run
INCLUDE_DIR=$ROOT/scripts/testbed-include
GO=${GO:-go}

# Debian packages the cgo build of llama.cpp needs: module zips drop vendor/,
# so these headers come from the system instead.
APT_PACKAGES=(nlohmann-json3-dev libstb-dev g++)

# Debian packages the drill model's training needs: PyTorch and NumPy for
# /usr/bin/python3 (not whatever python3 is first on PATH), and OpenBLAS,
# which the training loads instead of the reference BLAS (several times
# faster on the same threads).
TRAIN_PACKAGES=(python3-torch python3-numpy libopenblas0-pthread)
DRILL_DIR=$ROOT/internal/testbed/testdata/drill
DRILL_SUITE=$ROOT/suites/drill/drill.yaml

log() { printf 'testbed: %s\n' "$*" >&2; }
die() { printf 'testbed: %s\n' "$*" >&2; exit 1; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

record() { # record STEP SECONDS NOTE
	mkdir -p "$TESTBED_DIR"
	printf '%s\t%s\t%ss\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" "$3" >>"$TIMES"
}

# installed reports whether the Debian package $1 is installed: dpkg -s alone
# also succeeds for a removed package whose configuration files remain.
installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# ensure_packages installs the Debian packages given (default APT_PACKAGES)
# that are missing.
ensure_packages() {
	local want=("$@")
	[ $# -gt 0 ] || want=("${APT_PACKAGES[@]}")
	if ! command -v dpkg-query >/dev/null; then
		log "not a Debian system: assuming ${want[*]} (or their equivalents) are installed"
		return 0
	fi
	local missing=() p
	for p in "${want[@]}"; do
		installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get; install them by hand"
	# sudo resets the environment, so DEBIAN_FRONTEND goes through env.
	local as_root=(env DEBIAN_FRONTEND=noninteractive)
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "missing packages ${missing[*]}; run as root or install them: apt-get install ${missing[*]}"
		as_root=(sudo "${as_root[@]}")
	fi
	log "installing ${missing[*]} (log: $TESTBED_DIR/apt.log)"
	mkdir -p "$TESTBED_DIR"
	if ! { "${as_root[@]}" apt-get update -qq &&
		"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
		>"$TESTBED_DIR/apt.log" 2>&1; then
		tail -20 "$TESTBED_DIR/apt.log" >&2
		die "apt-get install ${missing[*]} failed (log above); install them by hand and run again"
	fi
}

# stub_include prints a directory holding miniaudio/miniaudio.h, the stub
# header. It is at a path that does not depend on the checkout: CGO_CPPFLAGS
# is part of Go's build cache key, so another clone or worktree of evalpin
# reuses the cached compile (seconds instead of minutes). The header is
# written by rename, never truncated in place, because a build in another
# clone may be reading it. When the user cache is not writable, the
# checkout's own copy is used (correct, but clones then compile apart).
stub_include() {
	local src=$INCLUDE_DIR/miniaudio/miniaudio.h sum dir
	sum=$(sha256sum "$src" | cut -c1-16)
	dir=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/evalpin/testbed-include/$sum
	if ! cmp -s "$src" "$dir/miniaudio/miniaudio.h" 2>/dev/null; then
		if ! { mkdir -p "$dir/miniaudio" 2>/dev/null &&
			cp "$src" "$dir/miniaudio/miniaudio.h.$$" 2>/dev/null &&
			mv -f "$dir/miniaudio/miniaudio.h.$$" "$dir/miniaudio/miniaudio.h"; }; then
			log "cannot write $dir; using $INCLUDE_DIR (clones will not share the Go build cache)"
			dir=$INCLUDE_DIR
		fi
	fi
	echo "$dir"
}

# stamp_value identifies a build: a binary built from another version or
# another stub header is rebuilt.
stamp_value() {
	printf '%s %s %s\n' "$OLLAMA_VERSION" "$("$GO" env GOOS)/$("$GO" env GOARCH)" \
		"$(sha256sum "$INCLUDE_DIR/miniaudio/miniaudio.h" | cut -d' ' -f1)"
}

cmd_build() {
	local want
	want=$(stamp_value)
	if [ -x "$OLLAMA" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
		echo "$OLLAMA"
		return 0
	fi
	# Serialise concurrent builds (two `make test` at once); the second one
	# finds the first one's stamp.
	mkdir -p "$BIN_DIR"
	if command -v flock >/dev/null; then
		exec 9>"$TESTBED_DIR/build.lock"
		flock 9
		if [ -x "$OLLAMA" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
			echo "$OLLAMA"
			return 0
		fi
	fi
	ensure_packages
	rm -f "$STAMP"
	local include
	include=$(stub_include)
	log "building ollama $OLLAMA_VERSION (cold: about 5 minutes on 2 cores; with a warm Go build cache, seconds)"
	local start
	start=$(now)
	# go install pkg@version builds outside this module, so evalpin's go.mod
	# is untouched. The version string is set by hand because module builds
	# carry no VCS stamp.
	(
		cd "$TESTBED_DIR"
		GOBIN=$BIN_DIR CGO_ENABLED=1 CGO_CPPFLAGS="-I$include" GOFLAGS=-buildvcs=false \
			"$GO" install -ldflags "-X github.com/ollama/ollama/version.Version=${OLLAMA_VERSION#v}" \
			"github.com/ollama/ollama@$OLLAMA_VERSION"
	)
	local secs
	secs=$(elapsed "$start")
	"$OLLAMA" --version >/dev/null 2>&1 || die "built $OLLAMA but it does not run"
	echo "$want" >"$STAMP"
	record build "$secs" "ollama $OLLAMA_VERSION $(du -m "$OLLAMA" | cut -f1)MB"
	log "built in ${secs}s"
	echo "$OLLAMA"
}

cmd_model() {
	[ $# -ge 1 ] || die "usage: scripts/testbed.sh model DIR [genmodel flags]"
	local dir=$1
	shift
	(cd "$ROOT" && "$GO" run ./internal/testbed/cmd/genmodel -o "$dir" "$@")
}

cmd_drill() {
	[ $# -ge 1 ] || die "usage: scripts/testbed.sh drill DIR [drillmodel flags]"
	local dir=$1
	shift
	(cd "$ROOT" && "$GO" run ./internal/testbed/cmd/drillmodel -o "$dir" "$@")
}

# cmd_train retrains the drill model in place: weights, recipe, reference
# outputs, the suite, and SHA256SUMS. It then says how the new greedy
# outputs compare with the ones they replace (reproduction is judged by
# them, not by the bytes: float results vary with the CPU and BLAS).
cmd_train() {
	ensure_packages "${TRAIN_PACKAGES[@]}"
	local blas
	blas=$(ls -d /usr/lib/*/openblas-pthread 2>/dev/null | head -1)
	[ -n "$blas" ] || log "OpenBLAS not found: training with the default BLAS (slower)"
	local old
	old=$(mktemp)
	cp "$DRILL_DIR/expected.jsonl" "$old" 2>/dev/null || : >"$old"
	local start
	start=$(now)
	(cd "$ROOT/internal/testbed/train" &&
		LD_LIBRARY_PATH=${blas}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
			OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 \
			/usr/bin/python3 train.py --out "$DRILL_DIR" --suite "$DRILL_SUITE" "$@" 2>&1 | tee "$DRILL_DIR/train.log" >&2
		exit "${PIPESTATUS[0]}")
	record train "$(elapsed "$start")" "train.py $*"
	(cd "$DRILL_DIR" && sha256sum weights.safetensors recipe.json expected.jsonl >SHA256SUMS)
	/usr/bin/python3 - "$old" "$DRILL_DIR/expected.jsonl" <<'PY'
import json, sys
def load(p):
    try:
        return {r["id"]: r for r in map(json.loads, open(p))}
    except (OSError, ValueError):
        return {}
old, new = load(sys.argv[1]), load(sys.argv[2])
same = sum(1 for k, r in new.items() if k in old and old[k]["output"] == r["output"])
acc = sum(r["pass"] for r in new.values()) / max(1, len(new))
print("testbed: drill model: %d cases, accuracy %.3f; %d of %d outputs as before" % (len(new), acc, same, len(old)), file=sys.stderr)
PY
	rm -f "$old"
}

# DRILL_VARIANTS: name, then drillmodel flags, then the --quantize type or -.
DRILL_VARIANTS=(
	"drill-f32|-dtype f32|-"
	"drill-f16|-dtype f16|-"
	"drill-q8_0|-dtype f16|q8_0"
	"drill-q4_k_m|-dtype f16|q4_K_M"
	"drill-nosep|-dtype f16 -template drill-nosep|-"
	"drill-penalty|-dtype f16 -default-penalty|-"
	"drill-stop|-dtype f16 -stop 0|-"
)

# cmd_drill_diff measures the drill variants with evalpin itself: one run of
# the drill suite each (greedy, one sample), then evalpin diff against F16.
# Everything (server, store, models, outputs) stays under DIR.
cmd_drill_diff() {
	local dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/evalpin-drill.XXXXXX")}
	mkdir -p "$dir/home" "$dir/models" "$dir/gen"
	dir=$(cd "$dir" && pwd)
	local ollama evalpin=$dir/evalpin
	ollama=$(cmd_build)
	(cd "$ROOT" && "$GO" build -o "$evalpin" ./cmd/evalpin && "$GO" build -o "$dir/drillmodel" ./internal/testbed/cmd/drillmodel)
	local host="127.0.0.1:$(free_port)"
	local oenv=(env -i PATH="$PATH" HOME="$dir/home" OLLAMA_MODELS="$dir/models" OLLAMA_HOST="$host" OLLAMA_NO_CLOUD=1 GIN_MODE=release)
	setsid "${oenv[@]}" "$ollama" serve >"$dir/server.log" 2>&1 &
	local pid=$! i
	trap 'kill -TERM -- -'"$pid"' 2>/dev/null || kill -TERM '"$pid"' 2>/dev/null' EXIT
	for i in $(seq 1 200); do
		"${oenv[@]}" "$ollama" list >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || die "ollama exited; see $dir/server.log"
		sleep 0.05
	done
	export EVALPIN_DB=$dir/drill.db
	local v name flags quant f16=
	[ ! -e "$EVALPIN_DB" ] || die "$EVALPIN_DB exists: drill-diff wants a fresh store (another DIR)"
	for v in "${DRILL_VARIANTS[@]}"; do
		IFS='|' read -r name flags quant <<<"$v"
		# shellcheck disable=SC2086 # flags are words
		"$dir/drillmodel" -o "$dir/gen/$name" $flags >/dev/null
		if [ "$quant" = - ]; then
			(cd "$dir/gen/$name" && "${oenv[@]}" "$ollama" create "$name" -f Modelfile >/dev/null 2>&1)
		else
			(cd "$dir/gen/$name" && "${oenv[@]}" "$ollama" create "$name" --quantize "$quant" -f Modelfile >/dev/null 2>&1)
		fi || die "ollama create $name failed"
		log "running the drill suite on $name"
		"$evalpin" run --suite "$DRILL_SUITE" --endpoint "http://$host/v1" --model "$name" --samples 1 --no-progress >"$dir/$name.run" 2>&1 ||
			{ cat "$dir/$name.run" >&2; die "evalpin run $name failed"; }
	done
	# The smoke check of the A/A case: F16 again, a new run of the same lock.
	log "running the drill suite on drill-f16 again (A/A)"
	"$evalpin" run --suite "$DRILL_SUITE" --endpoint "http://$host/v1" --model drill-f16 --samples 1 --fresh --no-progress >"$dir/drill-f16-again.run" 2>&1 ||
		{ cat "$dir/drill-f16-again.run" >&2; die "evalpin run drill-f16 (again) failed"; }
	# A fresh store numbers the runs 1, 2, … in DRILL_VARIANTS order, then the A/A run.
	"$evalpin" runs
	local id=0
	for v in "${DRILL_VARIANTS[@]}"; do
		id=$((id + 1))
		name=${v%%|*}
		[ "$name" = drill-f16 ] && { f16=$id; continue; }
	done
	id=0
	for v in "${DRILL_VARIANTS[@]}"; do
		id=$((id + 1))
		name=${v%%|*}
		[ "$id" = "$f16" ] && continue
		echo
		echo "== $name (run $id) against drill-f16 (run $f16)"
		"$evalpin" diff --baseline "$f16" --candidate "$id" || true
	done
	echo
	echo "== drill-f16 again (run $((${#DRILL_VARIANTS[@]} + 1))) against drill-f16 (run $f16): A/A"
	"$evalpin" diff --baseline "$f16" --candidate "$((${#DRILL_VARIANTS[@]} + 1))" || true
	log "outputs, store and server log under $dir"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

cmd_up() {
	local ollama
	ollama=$(cmd_build)
	if [ -f "$RUN_DIR/pid" ] && kill -0 "$(cat "$RUN_DIR/pid")" 2>/dev/null; then
		echo "http://$(cat "$RUN_DIR/host")/v1"
		return 0
	fi
	rm -rf "$RUN_DIR"
	mkdir -p "$RUN_DIR/home" "$RUN_DIR/models"
	local host="127.0.0.1:$(free_port)"
	local start
	start=$(now)
	HOME=$RUN_DIR/home OLLAMA_MODELS=$RUN_DIR/models OLLAMA_HOST=$host OLLAMA_NO_CLOUD=1 GIN_MODE=release \
		nohup "$ollama" serve >"$RUN_DIR/server.log" 2>&1 &
	echo $! >"$RUN_DIR/pid"
	echo "$host" >"$RUN_DIR/host"
	# `ollama list` succeeds once the server answers (no curl needed).
	local i ready=
	for i in $(seq 1 200); do
		if HOME=$RUN_DIR/home OLLAMA_HOST=$host "$ollama" list >/dev/null 2>&1; then
			ready=1
			break
		fi
		kill -0 "$(cat "$RUN_DIR/pid")" 2>/dev/null || die "ollama exited; see $RUN_DIR/server.log"
		sleep 0.05
	done
	[ -n "$ready" ] || die "ollama did not answer on $host within 10s; see $RUN_DIR/server.log"
	record start "$(elapsed "$start")" "up"
	local seed
	for seed in 1 2; do
		cmd_model "$RUN_DIR/gen/tiny-v$seed" -seed "$seed" >/dev/null
		start=$(now)
		HOME=$RUN_DIR/home OLLAMA_HOST=$host "$ollama" create "tiny-v$seed" -f "$RUN_DIR/gen/tiny-v$seed/Modelfile" >/dev/null 2>&1 ||
			die "ollama create tiny-v$seed failed"
		record create "$(elapsed "$start")" "tiny-v$seed"
	done
	log "serving tiny-v1 and tiny-v2 on http://$host (stop with scripts/testbed.sh down)"
	echo "http://$host/v1"
}

cmd_down() {
	[ -f "$RUN_DIR/pid" ] || { log "no server running"; return 0; }
	local pid
	pid=$(cat "$RUN_DIR/pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		local i
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	fi
	rm -f "$RUN_DIR/pid"
	log "stopped"
}

cmd_env() {
	echo "EVALPIN_OLLAMA=$OLLAMA"
}

cmd_measure() {
	local ollama
	ollama=$(cmd_build)
	(cd "$ROOT" && "$GO" run ./internal/testbed/cmd/setuptime -ollama "$ollama" -runs "${1:-3}") | tee -a "$TIMES"
}

cmd_times() {
	[ -f "$TIMES" ] && cat "$TIMES" || log "no times recorded yet"
}

case "${1:-}" in
build) shift; cmd_build "$@" ;;
model) shift; cmd_model "$@" ;;
drill) shift; cmd_drill "$@" ;;
train) shift; cmd_train "$@" ;;
drill-diff) shift; cmd_drill_diff "$@" ;;
up) shift; cmd_up "$@" ;;
down) shift; cmd_down "$@" ;;
env) shift; cmd_env "$@" ;;
measure) shift; cmd_measure "$@" ;;
times) shift; cmd_times "$@" ;;
*) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2 ;;
esac
