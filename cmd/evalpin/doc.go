// Command evalpin makes LLM model versions checkable and their regressions
// measurable.
//
// An open model drifts without changing its name: the weights stay, but the
// tokenizer, chat template, quantization, dtype, engine or default parameters
// move, and outputs quietly change. evalpin names a deliverable by a lock, the
// SHA-256 of its canonical manifest; refuses to evaluate an endpoint that does
// not report the expected lock on every response; replays a frozen prompt suite
// at deterministic settings; stores every output per lock in SQLite; and diffs
// the outputs of two locks case by case, with statistics, into a CI verdict.
//
// Usage:
//
//	evalpin <command> [arguments]
//
// "evalpin help" lists the commands and the exit status, the same for every
// command; "evalpin help <command>" gives a command's flags and examples.
// README.md holds a worked example for each use, and docs/ the details.
//
// This package is wiring: each command parses its flags (internal/cli), calls
// the libraries that do the work, and words their errors in terms of its
// flags (advice.go).
package main
