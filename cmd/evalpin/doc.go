// Command evalpin makes LLM model versions checkable and their regressions
// measurable.
//
// A deliverable (weights, tokenizer, chat template, quantization, engine and
// parameters) is named by a lock: the SHA-256 of its canonical manifest. evalpin
// refuses to evaluate an endpoint that does not report the expected lock, replays
// a frozen prompt suite against it at deterministic settings, stores every output
// per lock in SQLite, and diffs the outputs of two locks statistically.
//
// Usage:
//
//	evalpin <command> [arguments]
//
// Run "evalpin help" for the commands and "evalpin help <command>" for the flags
// and examples of one. README.md has a worked example.
//
// Exit status: 0 success; 1 the gate failed (a regression); 2 usage or input
// error; 3 lock refused; 4 run incomplete; 5 internal error; 130 interrupted.
package main
