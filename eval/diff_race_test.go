//go:build race

package eval_test

// raceEnabled reports that the race detector is on; the simulations, which
// only test arithmetic, skip themselves under its tenfold slowdown.
const raceEnabled = true
