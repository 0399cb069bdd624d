#!/bin/sh
# bench-runner.sh installs the hey load generator into .testbed/bin (once) and
# runs the runner's benchmarks, which compare evalpin's runner with hey on the
# same loopback stub server and measure peak RSS of a 10,000-case run.
#
#   scripts/bench-runner.sh              # install hey if needed, run the benchmarks
#   scripts/bench-runner.sh -install     # only install hey
#   BENCHTIME=5x scripts/bench-runner.sh # more iterations per benchmark
#
# By hand, the same comparison:
#   go run ./internal/stubserver/cmd/stubserver -addr 127.0.0.1:8089 -latency 0 &
#   .testbed/bin/hey -n 10000 -c 64 -m POST -T application/json \
#     -d '{"model":"stub","messages":[{"role":"user","content":"hi"}],"temperature":0}' \
#     http://127.0.0.1:8089/v1/chat/completions
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.testbed/bin"
hey_version=${HEY_VERSION:-latest}

if [ ! -x "$bin/hey" ]; then
	echo "installing github.com/rakyll/hey@$hey_version into $bin" >&2
	mkdir -p "$bin"
	GOBIN="$bin" go install "github.com/rakyll/hey@$hey_version"
fi
[ "${1:-}" = "-install" ] && exit 0

cd "$root"
exec go test -run='^$' -bench=. -benchtime="${BENCHTIME:-3x}" -benchmem ./runner/
