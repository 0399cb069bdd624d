//go:build !race

package eval_test

// raceEnabled reports that the race detector is on.
const raceEnabled = false
