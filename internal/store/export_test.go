package store_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/store"
)

// ReadExport yields what Results and Cases return, in order, and counts the
// cases of the suite and of the results (a result's case the suite lacks
// counts too), the results and the failed ones.
func TestReadExport(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	suite := eval.Suite{Name: "s", Version: "1", Settings: eval.DefaultSettings(), Hash: "suiteX"}
	for i := range 5 {
		suite.Cases = append(suite.Cases, eval.Case{ID: fmt.Sprintf("c%d", 5-i), Prompt: "p", Tags: []string{"t"}, Hash: fmt.Sprint("h", i)})
	}
	if err := db.PutSuite(ctx, suite); err != nil {
		t.Fatal(err)
	}
	var results []eval.Result
	for _, id := range []string{"c5", "c2", "c9", "c1"} { // c9 is not in the suite
		for s := range 3 {
			r := eval.Result{CaseID: id, CaseHash: "h", Sample: 2 - s, Output: "out \xff", Checks: []eval.Check{{Scorer: "x", Pass: s == 0}}}
			if s == 1 {
				r.Error, r.ErrorKind = "boom", "http"
			}
			results = append(results, r)
		}
	}
	run := eval.Run{Lock: "sha256:aa", Suite: "s", SuiteHash: suite.Hash, Settings: eval.DefaultSettings(), Status: eval.RunComplete}
	if err := db.ImportRun(ctx, &run, eval.SliceSeq(results)); err != nil {
		t.Fatal(err)
	}
	wantResults, err := db.Results(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	byID, err := db.Cases(ctx, suite.Hash)
	if err != nil {
		t.Fatal(err)
	}
	var wantCases []eval.Case
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		wantCases = append(wantCases, byID[id])
	}
	var gotCases []eval.Case
	var gotResults []eval.Result
	var x store.ExportRead
	err = db.ReadExport(ctx, run.ID, suite.Hash, func(rd store.ExportRead) error {
		x = rd
		for c, err := range rd.StoredCases {
			if err != nil {
				return err
			}
			gotCases = append(gotCases, c)
		}
		for r, err := range rd.RunResults {
			if err != nil {
				return err
			}
			gotResults = append(gotResults, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if x.Cases != 6 || x.Results != 12 || x.Errors != 4 {
		t.Errorf("ReadExport counted %d cases, %d results, %d errors; want 6, 12, 4", x.Cases, x.Results, x.Errors)
	}
	if !reflect.DeepEqual(gotCases, wantCases) {
		t.Errorf("StoredCases yielded %+v, want %+v", gotCases, wantCases)
	}
	if !reflect.DeepEqual(gotResults, wantResults) {
		t.Errorf("RunResults yielded %+v, want %+v", gotResults, wantResults)
	}
}
