package eval

import "github.com/evalpin/evalpin/internal/lockid"

// A Playback is an incident played back: cases asked again of the lock that
// answered them then, each with its output then and its outputs now. A case
// reproduces where an output now is identical to the output then; with
// samples above one (a temperature above 0 makes an output a draw), how often
// it does is its reproduction rate.
type Playback struct {
	Lock     lockid.ID      `json:"lock"`
	Model    string         `json:"model"`
	Run      int64          `json:"run"`    // the run that stored the outputs now
	Suite    string         `json:"suite"`  // the ad-hoc suite's name
	Source   string         `json:"source"` // where the cases and the outputs then came from, in words
	Settings Settings       `json:"settings"`
	Cases    []PlaybackCase `json:"cases"`
	// Against is the same cases asked of the current lock, side by side
	// (each case's Against); nil when none was asked.
	Against *PlaybackSide `json:"against,omitempty"`
	// Notes say what the reader must know to trust the rates: settings
	// missing from the requests, a temperature above 0 with one sample.
	Notes []string `json:"notes,omitempty"`
}

// A PlaybackCase is one case played back.
type PlaybackCase struct {
	ID string `json:"id"`
	// Then is the output then, and ThenFrom where it comes from: "recorded"
	// (an outputs file), "run N" (a stored run of the lock) or "" when there
	// is none; ThenError is the recorded request's error, if it failed.
	Then      string `json:"then"`
	ThenFrom  string `json:"then_from"`
	ThenError string `json:"then_error,omitempty"`
	// Now are the distinct outputs now, the most frequent first.
	Now []PlaybackOutput `json:"now"`
	// Identical of Samples outputs now are identical to Then (failed
	// requests count in Samples); both are 0 when there is no output then.
	Identical int `json:"identical"`
	Samples   int `json:"samples"`
	// Against are the distinct outputs of the current lock (Playback's
	// Against), Same where identical to Then; AgainstIdentical of
	// AgainstSamples are.
	Against          []PlaybackOutput `json:"against,omitempty"`
	AgainstIdentical int              `json:"against_identical,omitempty"`
	AgainstSamples   int              `json:"against_samples,omitempty"`
}

// A PlaybackSide is the other lock a playback asked: the lock, the model
// that served it and the run that stored its outputs.
type PlaybackSide struct {
	Lock  lockid.ID `json:"lock"`
	Model string    `json:"model"`
	Run   int64     `json:"run"`
}

// A PlaybackOutput is one distinct output now and how many samples gave
// it; Error is set, and Output empty, for failed requests.
type PlaybackOutput struct {
	Output string `json:"output"`
	Error  string `json:"error,omitempty"`
	Count  int    `json:"count"`
	Same   bool   `json:"same"` // identical to the output then
}

// Rate is c's reproduction rate, Identical/Samples; 0 when it has no
// output then.
func (c PlaybackCase) Rate() float64 {
	if c.Samples == 0 {
		return 0
	}
	return float64(c.Identical) / float64(c.Samples)
}

// Totals returns the outputs now identical to the outputs then over every
// case that has one, and how many were compared.
func (p Playback) Totals() (identical, samples int) {
	for _, c := range p.Cases {
		identical += c.Identical
		samples += c.Samples
	}
	return identical, samples
}

// Agreement returns how many outputs now of the cases asked more than once
// are each case's most frequent output, and how many outputs those cases
// have: the noise floor a reproduction rate is read against. Outputs now
// that all agree while none is the output then say the change is the
// model's, not the engine's sampling.
func (p Playback) Agreement() (agree, samples int) {
	for _, c := range p.Cases {
		n, most := 0, 0
		for _, o := range c.Now {
			n += o.Count
			if o.Error == "" {
				most = max(most, o.Count)
			}
		}
		if n > 1 {
			agree, samples = agree+most, samples+n
		}
	}
	return agree, samples
}
