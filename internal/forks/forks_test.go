package forks_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/compare"
	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/forks"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/runs"
	"github.com/evalpin/evalpin/internal/store"
)

// The adjustment across the matrix, on known p-values, against R 4.2.2:
//
//	p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") # 0.03 0.06 0.06 0.02
//	p.adjust(c(0.2, 0.012, 0.049, 0.6), "BH")    # 0.26666666666666666 0.048 0.098 0.6
//
// The gated metrics' tests of both pairs form one Holm family, the others
// one Benjamini–Hochberg family; a repeat takes its metric's value and an
// untested pair counts in neither.
func TestAdjustAgainstR(t *testing.T) {
	nan := math.NaN()
	test := func(p float64, v compare.Verdict) compare.MatrixTest {
		return compare.MatrixTest{Tested: !math.IsNaN(p), P: p, AdjP: nan, Verdict: v}
	}
	m := &compare.Matrix{Alpha: 0.05, Metrics: []compare.MatrixMetric{
		{Name: "all checks", Gated: true, Tests: []compare.MatrixTest{test(0.01, compare.Regressed), test(0.04, compare.Regressed)}},
		{Name: "tag safety", Gated: true, Tests: []compare.MatrixTest{test(0.03, compare.Regressed), test(0.005, compare.Improved)}},
		{Name: "tag geo", Tests: []compare.MatrixTest{test(0.2, compare.NoChange), test(0.012, compare.Changed)}},
		{Name: "length", Tests: []compare.MatrixTest{test(0.049, compare.Changed), test(0.6, compare.NoChange)}},
		{Name: "scorer contains", Tests: []compare.MatrixTest{test(0.01, compare.Regressed), test(nan, "")}},
	}}
	m.Metrics[4].Tests[0].SameAs = "all checks"
	forks.Adjust(m)
	want := [][]float64{
		{0.029999999999999999, 0.059999999999999998},
		{0.059999999999999998, 0.020000000000000000},
		{0.266666666666666663, 0.048000000000000001},
		{0.098000000000000004, 0.599999999999999978},
		{0.029999999999999999, nan},
	}
	verdicts := [][]compare.Verdict{
		{compare.Regressed, compare.NoChange},
		{compare.NoChange, compare.Improved},
		{compare.NoChange, compare.Changed},
		{compare.NoChange, compare.NoChange},
		{compare.Regressed, ""},
	}
	for i, mm := range m.Metrics {
		for j, tt := range mm.Tests {
			if got := tt.AdjP; !(math.Abs(got-want[i][j]) < 1e-12 || math.IsNaN(got) && math.IsNaN(want[i][j])) {
				t.Errorf("%s, pair %d: adjusted p %v, want %v (R)", mm.Name, j, got, want[i][j])
			}
			if tt.Verdict != verdicts[i][j] {
				t.Errorf("%s, pair %d: verdict %q, want %q", mm.Name, j, tt.Verdict, verdicts[i][j])
			}
		}
	}
	if m.GatedFamily != 4 || m.ExploratoryFamily != 4 {
		t.Errorf("families %d gated, %d exploratory; want 4 and 4", m.GatedFamily, m.ExploratoryFamily)
	}
}

var (
	lockA = lockid.ID("sha256:" + strings.Repeat("a1", 32))
	lockB = lockid.ID("sha256:" + strings.Repeat("b2", 32))
	lockC = lockid.ID("sha256:" + strings.Repeat("c3", 32))
	// lockD's id starts with the digits 123456, which are also a run id.
	lockD = lockid.ID("sha256:123456" + strings.Repeat("d4", 29))
)

// mustDB stores complete runs of the suite "s" (and one of "other") with
// models and labels:
//
//	run 1: lock A, model base, fork=base
//	run 2: lock B, model nous, fork=nous
//	run 3: lock C, model hermes, fork=hermes, samples 3 (other settings)
//	run 4: lock D, model 123456
//	run 5: lock B, suite other
func mustDB(t *testing.T) *store.DB {
	t.Helper()
	ctx := context.Background()
	db := store.NewDB(filepath.Join(t.TempDir(), "e.db"))
	db.Now = func() time.Time { return time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC) }
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	add := func(lock lockid.ID, suite, model string, labels map[string]string, samples int) {
		s := eval.DefaultSettings()
		s.Samples = samples
		r := eval.Run{Lock: lock, Suite: suite, SuiteHash: "hash-" + suite, Settings: s, SettingsHash: s.Hash(), Model: model, Labels: labels}
		if err := db.CreateRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
		w := db.NewWriter(ctx, r.ID, store.WriterOptions{})
		for i := range 12 {
			for k := range samples {
				id := fmt.Sprintf("c%02d", i)
				if err := w.Put(eval.Result{CaseID: id, CaseHash: "h" + id, Sample: k, Output: "out " + id, Lock: lock,
					Checks: []eval.Check{{Scorer: "contains", Pass: i%3 != 0 || lock != lockC}}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := db.SetRunStatus(ctx, r.ID, eval.RunComplete); err != nil {
			t.Fatal(err)
		}
	}
	add(lockA, "s", "base", map[string]string{"fork": "base"}, 1)
	add(lockB, "s", "nous", map[string]string{"fork": "nous"}, 1)
	add(lockC, "s", "hermes", map[string]string{"fork": "hermes"}, 3)
	add(lockD, "s", "123456", nil, 1)
	add(lockB, "other", "nous", nil, 1)
	return db
}

func TestResolve(t *testing.T) {
	db := mustDB(t)
	ctx := context.Background()
	tests := []struct {
		name string
		sels []string
		runs []int64  // the runs taken, when it resolves
		by   []string // what each selector named
		err  string   // in the error, when it does not
		kind func(error) bool
	}{
		{"label-lock-model-run", []string{"fork=base", "b2b2b2", "#4"}, []int64{1, 2, 4}, []string{"label", "lock", "run"}, "", nil},
		{"model", []string{"base", "nous"}, []int64{1, 2}, []string{"model", "model"}, "", nil},
		{"run-digits", []string{"1", "2"}, []int64{1, 2}, []string{"run", "run"}, "", nil},
		{"full-lock-id", []string{string(lockA), string(lockB)}, []int64{1, 2}, []string{"lock", "lock"}, "", nil},
		{"unknown-label", []string{"fork=base", "fork=zzz"}, nil, nil, "no complete run labelled fork=zzz of suite s", isNotFound},
		{"unknown-model", []string{"fork=base", "vicuna"}, nil, nil, "no complete run of the model vicuna", isNotFound},
		{"unknown-lock", []string{"fork=base", "ffffff"}, nil, nil, "no complete run of the model ffffff", isNotFound},
		{"other-settings", []string{"fork=base", "fork=hermes"}, nil, nil, "fork=hermes names run 3, made at other settings than run 1: samples 1 → 3", isInput},
		{"other-settings-run", []string{"1", "3"}, nil, nil, "samples 1 → 3", isInput},
		{"other-suite-run", []string{"1", "5"}, nil, nil, "run 5 is of suite other, not s", isInput},
		{"same-run", []string{"fork=base", "1"}, nil, nil, "fork=base and 1 both name run 1", isInput},
		{"ambiguous-model-lock", []string{"fork=base", "123456"}, nil, nil, "123456 is ambiguous", isAmbiguous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := forks.Resolve(ctx, db, tt.sels, "s")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !tt.kind(err) {
					t.Fatalf("error %v (kind %v), want one with %q", err, fault.KindOf(err), tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range got {
				if f.Run.ID != tt.runs[i] || f.By != tt.by[i] || f.Selector != tt.sels[i] {
					t.Errorf("%s: run %d by %s, want run %d by %s", tt.sels[i], f.Run.ID, f.By, tt.runs[i], tt.by[i])
				}
			}
		})
	}
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
func isInput(err error) bool    { return fault.KindOf(err) == fault.Input }
func isAmbiguous(err error) bool {
	_, ok := errors.AsType[*runs.AmbiguousError](err)
	return ok
}

// Compare builds the matrix: one row per metric, a cell per fork and a test
// per fork after the first, read off each pair's comparison.
func TestCompare(t *testing.T) {
	db := mustDB(t)
	var picked []string
	m, err := forks.Compare(context.Background(), db, []string{"fork=base", "fork=nous", "123456" + strings.Repeat("d4", 29)}, forks.Options{
		Suite: "s", Resamples: 200, Picked: func(i int, f compare.Fork) { picked = append(picked, fmt.Sprint(i, f.Run.ID)) }})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(picked, " "); got != "0 1 1 2 2 4" {
		t.Errorf("picked %q", got)
	}
	if len(m.Forks) != 3 || len(m.Pairs) != 2 || m.Suite != "s" || m.Forks[1].Differs != "" {
		t.Fatalf("matrix %+v", m)
	}
	all := m.Metrics[0]
	if all.Name != "all checks" || !all.Gated || len(all.Cells) != 3 || len(all.Tests) != 2 || all.Cells[1].Value != 1 || !all.Tests[0].Tested {
		t.Errorf("all checks: %+v", all)
	}
	if _, err := forks.Compare(context.Background(), db, []string{"fork=base"}, forks.Options{Suite: "s"}); fault.KindOf(err) != fault.Input {
		t.Errorf("one fork: %v, want an input error", err)
	}
}
