package stubserver

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
)

// A Planted is a scriptable model for simulations: a suite of Cases cases
// ("case <i>" is case i's prompt) whose outputs pass or fail and vary by a
// known plan, so that what evalpin's statistics claim can be checked against
// the truth. Outputs are "PASS v<variant>" or "FAIL v<variant>"; a suite
// scores them with contains: PASS (SuiteJSONL).
//
// The cases of one world (Seed) have fixed traits: a share StablePass always
// passes, StableFail always fails, the rest pass or fail at random (with
// probability ½) on each request, which makes the discordance of two runs
// ψ = (1 − StablePass − StableFail)/2. A share Unstable of the cases varies
// its text on a request with probability Vary (drift).
//
// Each server process (Process) draws afresh, with three kinds of
// correlation that a real batching engine shows:
//   - clusters: with ClusterSize > 1, cases i/ClusterSize form a cluster and
//     a share ClusterShare of the random cases follows the cluster's coin of
//     the process, not its own;
//   - persistent (per process): with probability Persistent a case's text
//     variation is drawn once per process, so its repeats in one process
//     agree (warm state, prefix caches);
//   - time-local (co-batching): with probability CoBatch a request that
//     arrives while another of the same prompt is in flight, or that is
//     packed with it, copies that one's answer.
//
// The candidate model plants a loss of Loss in the pass rate: as extra
// failures (Proportional false: each case that always passes fails always
// with probability Loss/StablePass, so the expected loss is Loss) or as a
// proportional loss (each passing answer fails with probability
// Loss/(pass rate)); and Drift, a share of the cases whose text changes in
// every answer.
type Planted struct {
	Seed                                uint64
	Cases                               int
	StablePass, StableFail              float64
	ClusterSize                         int
	ClusterShare                        float64
	Unstable, Vary, Persistent, CoBatch float64
	Loss                                float64
	Proportional                        bool
	Drift                               float64
}

// PlantedCluster returns the cluster of case i ("" without clusters).
func (p *Planted) PlantedCluster(i int) string {
	if p.ClusterSize <= 1 {
		return ""
	}
	return "g" + strconv.Itoa(i/p.ClusterSize)
}

// SuiteJSONL returns the JSON-lines suite of p's cases: samples repeats of
// each, a contains: PASS check, and their clusters.
func (p *Planted) SuiteJSONL(name string, samples int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"suite": {"name": %q, "version": "1", "defaults": {"max_tokens": 8, "samples": %d}}}`+"\n", name, samples)
	for i := range p.Cases {
		fmt.Fprintf(&b, `{"id": "c%05d", "prompt": "case %d", "scorers": [{"kind": "contains", "value": "PASS"}]`, i, i)
		if c := p.PlantedCluster(i); c != "" {
			fmt.Fprintf(&b, `, "cluster": %q`, c)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// u returns a uniform number in [0, 1) determined by its arguments alone
// (SplitMix64's finalizer over them), so a simulation is reproducible.
func u(keys ...uint64) float64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, k := range keys {
		h ^= k
		h += 0x9e3779b97f4a7c15
		h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9
		h = (h ^ (h >> 27)) * 0x94d049bb133111eb
		h ^= h >> 31
	}
	return float64(h>>11) / (1 << 53)
}

// The streams of u.
const (
	streamKind = iota + 1
	streamShared
	streamUnstable
	streamPass
	streamCluster
	streamVary
	streamVariant
	streamPersistent
	streamLoss
	streamCoBatch
	streamDrift
)

// A Process answers the prompts of one server process of p's model: seed
// tells processes apart. Use it as Config.Answer.
type Process struct {
	p    *Planted
	seed uint64

	mu       sync.Mutex
	arrivals map[int]uint64      // case → requests of it so far
	inFlight map[int]*flightSlot // case → the answer of a request of it in flight
	copies   int
}

type flightSlot struct {
	answer string
	n      int
}

// Process returns a server process of p's model.
func (p *Planted) Process(seed uint64) *Process {
	return &Process{p: p, seed: seed, arrivals: make(map[int]uint64), inFlight: make(map[int]*flightSlot)}
}

// CoBatched returns how many answers copied a co-batched request's.
func (pr *Process) CoBatched() int {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.copies
}

// Begin answers prompt, arriving now; End(prompt) must follow when the
// request is answered, so that later arrivals no longer co-batch with it.
func (pr *Process) Begin(prompt string) string {
	i, err := strconv.Atoi(strings.TrimPrefix(prompt, "case "))
	if err != nil {
		return Echo(prompt)
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	k := pr.arrivals[i]
	pr.arrivals[i]++
	if s := pr.inFlight[i]; s != nil {
		s.n++
		if u(pr.p.Seed, pr.seed, streamCoBatch, uint64(i), k) < pr.p.CoBatch {
			pr.copies++
			return s.answer
		}
		return pr.answer(i, k)
	}
	a := pr.answer(i, k)
	pr.inFlight[i] = &flightSlot{answer: a, n: 1}
	return a
}

// End records that a request of prompt was answered.
func (pr *Process) End(prompt string) {
	i, err := strconv.Atoi(strings.TrimPrefix(prompt, "case "))
	if err != nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if s := pr.inFlight[i]; s != nil {
		if s.n--; s.n == 0 {
			delete(pr.inFlight, i)
		}
	}
}

// answer is the k-th answer of case i in the process, drawn independently.
func (pr *Process) answer(i int, k uint64) string {
	p, s, c := pr.p, pr.seed, uint64(i)
	pass := p.passes(s, i, k)
	variant := uint64(0)
	if u(p.Seed, streamUnstable, c) < p.Unstable {
		key := k
		if u(p.Seed, s, streamPersistent, c) < p.Persistent {
			key = math.MaxUint64 // once per process
		}
		if u(p.Seed, s, streamVary, c, key) < p.Vary {
			variant = 1 + uint64(u(p.Seed, s, streamVariant, c, key)*1e9)
		}
	}
	if p.Drift > 0 && u(p.Seed, streamDrift, c) < p.Drift {
		variant = 1e10 + uint64(u(p.Seed, s, streamVariant, c, k)*1e9) // a new text in every answer
	}
	word := "FAIL"
	if pass {
		word = "PASS"
	}
	return word + " v" + strconv.FormatUint(variant, 10)
}

// passes says whether the k-th answer of case i in process s passes.
func (p *Planted) passes(s uint64, i int, k uint64) bool {
	c := uint64(i)
	kind := u(p.Seed, streamKind, c)
	var pass bool
	switch {
	case kind < p.StablePass:
		pass = true
		if !p.Proportional && p.Loss > 0 && u(p.Seed, streamLoss, c) < p.Loss/p.StablePass {
			return false // an extra failure
		}
	case kind < p.StablePass+p.StableFail:
		pass = false
	default:
		coin := u(p.Seed, s, streamPass, c, k)
		if p.ClusterSize > 1 && u(p.Seed, streamShared, c) < p.ClusterShare {
			coin = u(p.Seed, s, streamCluster, uint64(i/p.ClusterSize), k)
		}
		pass = coin < 0.5
	}
	if pass && p.Proportional && p.Loss > 0 {
		rate := p.StablePass + (1-p.StablePass-p.StableFail)/2
		if u(p.Seed, s, streamLoss, c, k) < p.Loss/rate {
			return false
		}
	}
	return pass
}
