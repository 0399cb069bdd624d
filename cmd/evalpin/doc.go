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
// The commands:
//
//	lock create|verify|diff|show   lock manifests of model directories; what changed
//	serve                          the lock-reporting sidecar in front of an engine, for one model
//	probe URL                      which lock an endpoint serves, and how evalpin knows
//	run                            replay a suite against a locked endpoint, store every output
//	runs, show RUN [CASE]          the stored history
//	diff                           a candidate run against a baseline, with statistics
//	gate                           diff under a policy, exit 1 on a regression, 6 when inconclusive (for CI)
//	baseline export|import         portable baseline files, kept in git for CI
//	suite check|list|show          validate suite files; the bundled suites
//
// Run "evalpin help <command>" for the flags and examples of one. Every command
// that reads or writes history takes --db FILE; without it, $EVALPIN_DB, else
// evalpin.db in the current directory.
//
// run and probe send the API key in $VAR to every endpoint with --api-key-env
// VAR; without it, $OPENAI_API_KEY only to endpoints of the origin of
// $OPENAI_BASE_URL (https://api.openai.com/v1 when unset), which is also their
// endpoint when none is given. No key or URL password is stored or printed,
// even when a server echoes it; no request follows a redirect to another
// origin.
//
// README.md holds a worked example for each use, and "evalpin help" the exit
// status, the same for every command.
package main
