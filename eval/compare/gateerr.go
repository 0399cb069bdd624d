package compare

import (
	"fmt"
	"strings"
)

// A FailedError is a failed gate as an error: Regressions gated metrics
// regressed.
type FailedError struct{ Regressions int }

func (e *FailedError) Error() string {
	if e.Regressions == 1 {
		return "gate failed: 1 gated metric regressed"
	}
	return fmt.Sprintf("gate failed: %d gated metrics regressed", e.Regressions)
}

// An InconclusiveError is an inconclusive gate as an error: its reasons,
// and, when cases were lost to failed requests, the candidate run and the
// first such case, whose stored failure says why.
type InconclusiveError struct {
	Reasons   []string
	Candidate int64
	FirstLost string
	// Show is the command that shows a stored case of the candidate's
	// database, which the caller that opened it may set for a hint.
	Show string
}

func (e *InconclusiveError) Error() string {
	return "gate inconclusive: " + strings.Join(e.Reasons, "; ")
}

// Err returns c's verdict as the error of a command that exits by it: nil
// for a pass, a *FailedError or an *InconclusiveError.
func (c *Comparison) Err() error {
	switch g := &c.Gate; g.Verdict {
	case GateFail:
		return &FailedError{Regressions: len(g.Regressions)}
	case GateInconclusive:
		return &InconclusiveError{Reasons: g.Reasons(), Candidate: c.Candidate.ID, FirstLost: g.Evidence.FirstLost}
	}
	return nil
}
