package compare

import (
	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/stats"
)

// A Matrix sets several runs of one suite at one setting side by side — forks
// of a model, each run of its own lock — and compares each with the first by
// a paired Comparison (Diff). Its type lives here, beside Comparison, so that
// report renders it without knowing the store; internal/forks resolves the
// runs, builds it and adjusts its p-values across the whole matrix.
type Matrix struct {
	Suite    string
	Settings eval.Settings
	Alpha    float64 // the policy's
	// Forks are the runs in the order they were named; the first is the
	// reference every other is compared with.
	Forks []Fork
	// Pairs[i-1] compares Forks[i] with Forks[0].
	Pairs []*Comparison
	// Metrics hold one row each: the overall pass rate, then one per scorer,
	// one per tag, output length, similarity and drift.
	Metrics []MatrixMetric
	// GatedFamily and ExploratoryFamily are the numbers of tests adjusted
	// together across the matrix: by Holm (the gated metrics of every pair)
	// and by Benjamini–Hochberg (the rest).
	GatedFamily, ExploratoryFamily int
	Warnings                       []error
}

// A Fork is one run of a Matrix and how it was named.
type Fork struct {
	Selector string // as given on the command line
	By       string // what the selector named: SelectRun, SelectLock, SelectLabel or SelectModel
	Run      eval.Run
	// Differs says in words which parts of the deliverable differ from the
	// first fork's ("weights same; template changed"), "same lock" for the
	// first's lock, "" for the first or when an identity document is
	// unknown.
	Differs string
}

// What a fork's selector named.
const (
	SelectRun   = "run"
	SelectLock  = "lock"
	SelectLabel = "label"
	SelectModel = "model"
)

// The kinds of a matrix row, beside PassOverall, PassScorer and PassTag.
const (
	RowLength     = MeasureLength
	RowSimilarity = MeasureSimilarity
	RowDrift      = "drift"
)

// A MatrixMetric is one metric across the forks.
type MatrixMetric struct {
	Name  string // the metric's name in a Comparison ("all checks", "scorer contains", …)
	Kind  string // PassOverall, PassScorer, PassTag, RowLength, RowSimilarity or RowDrift
	Key   string // the scorer's or tag's name
	Unit  string // "%" for a share, else the measure's unit
	Gated bool
	// Cells hold the metric's value for each fork, in the order of
	// Matrix.Forks: a pass rate with its Wilson interval, a median (length),
	// the median similarity to the first fork's output (for the first, the
	// similarity of its own repeats: the noise floor), or the share of
	// outputs that differ from the first's (for the first, its repeats').
	Cells []MatrixCell
	// Tests[i-1] is fork i against the first; Tested false where the pair
	// has no such metric.
	Tests []MatrixTest
}

// A MatrixCell is one fork's value of a metric; Value is NaN when unknown,
// CI's ends NaN when it has no interval.
type MatrixCell struct {
	Value float64
	CI    stats.Interval
	N     int // the cases it is measured on
}

// A MatrixTest is one fork's paired difference from the first, as its
// pair's Comparison computed it, with the p-value adjusted across the
// matrix.
type MatrixTest struct {
	Tested bool
	Diff   float64        // fork − first: pass-rate difference, shift, or drift in excess of the noise floor
	CI     stats.Interval // the pair's interval, at the level CIAdjust names
	// CIAdjust is the pair's adjustment of the interval's level.
	CIAdjust string
	// P is the pair's unadjusted p-value (for a gated metric one-sided in the
	// direction of Diff, else two-sided); AdjP is P adjusted across the
	// matrix by Adjust (AdjustHolm or AdjustBH); PairAdjP is the pair's own
	// adjusted p-value.
	P, AdjP, PairAdjP float64
	Adjust            string
	// SameAs names the metric of the pair this one repeats (Comparison's
	// SameAs); its AdjP is that metric's, and it is not counted again.
	SameAs string
	// Verdict is the pair's verdict, kept only where the matrix's adjustment
	// also finds the change significant at the policy's alpha; else NoChange
	// (or Underpowered, where the pair said so).
	Verdict Verdict
}
