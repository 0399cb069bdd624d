package store_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/store"
)

// t0 is the fixed clock of the tests.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// MustOpenDB returns a fresh database in a temporary file, with a fixed clock,
// closed when the test ends.
func MustOpenDB(tb testing.TB) *store.DB {
	tb.Helper()
	db := store.NewDB(filepath.Join(tb.TempDir(), "evalpin.db"))
	db.Now = func() time.Time { return t0 }
	if err := db.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

// mustCreateRun stores a run of lock over suite "s1" and returns it.
func mustCreateRun(tb testing.TB, db *store.DB, lock lockid.ID) eval.Run {
	tb.Helper()
	run := eval.Run{
		Lock: lock, Suite: "s1", SuiteVersion: "1", SuiteHash: "suitehash1",
		Settings: eval.DefaultSettings(), Endpoints: []string{"http://127.0.0.1:8000/v1"}, Version: "test",
	}
	if err := db.CreateRun(context.Background(), &run); err != nil {
		tb.Fatal(err)
	}
	return run
}

func TestOpen_Errors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte("this is not a database, just some text that is long enough to have a header"), 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	{
		sdb, err := sql.Open("sqlite3", foreign)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sdb.Exec(`CREATE TABLE notes (body TEXT)`); err != nil {
			t.Fatal(err)
		}
		sdb.Close()
	}
	newer := filepath.Join(dir, "newer.db")
	{
		db, err := store.Open(newer)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		sdb, err := sql.Open("sqlite3", newer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sdb.Exec(`INSERT INTO migrations (name, applied) VALUES ('migration/9999_future.sql', 'x')`); err != nil {
			t.Fatal(err)
		}
		sdb.Close()
	}

	for _, tt := range []struct {
		name string
		path string
		want error // matched with errors.Is
	}{
		{"missing directory", filepath.Join(dir, "nope", "evalpin.db"), fs.ErrNotExist},
		{"not a database", junk, store.ErrNotDatabase},
		{"another program's database", foreign, store.ErrNotDatabase},
		{"newer schema", newer, store.ErrNewerSchema},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(tt.path)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestOpen_Reopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evalpin.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	run := mustCreateRun(t, db, "sha256:aa")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// A second open finds the migrations applied and the data kept.
	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Run(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Lock != "sha256:aa" {
		t.Fatalf("Lock=%q, want sha256:aa", got.Lock)
	}
	if err := db.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_Memory(t *testing.T) {
	db, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run := mustCreateRun(t, db, "sha256:aa")
	w := db.NewWriter(context.Background(), run.ID, store.WriterOptions{})
	for i := range 3 {
		if err := w.Put(eval.Result{CaseID: "c", Sample: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rs, err := db.Results(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rs), 3; got != want {
		t.Fatalf("len(Results)=%d, want %d", got, want)
	}
}

func TestRuns(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	run := mustCreateRun(t, db, "sha256:aa11")

	// CreateRun fills in the defaults and the lookup returns what was stored.
	if run.ID == 0 || run.Status != eval.RunRunning || !run.Started.Equal(t0) || run.SettingsHash != eval.DefaultSettings().Hash() {
		t.Fatalf("CreateRun left %+v", run)
	}
	got, err := db.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, run) {
		t.Fatalf("Run=%+v\nwant %+v", got, run)
	}
	if _, err := db.Run(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Run(999) error = %v, want ErrNotFound", err)
	}

	// Status changes set and clear the finish time.
	db.Now = func() time.Time { return t0.Add(time.Minute) }
	if err := db.SetRunStatus(ctx, run.ID, eval.RunInterrupted); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Run(ctx, run.ID); got.Status != eval.RunInterrupted || !got.Finished.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after interrupt: status %s finished %v", got.Status, got.Finished)
	}
	if err := db.SetRunStatus(ctx, run.ID, eval.RunRunning); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Run(ctx, run.ID); got.Status != eval.RunRunning || !got.Finished.IsZero() {
		t.Fatalf("after resume: status %s finished %v", got.Status, got.Finished)
	}
	if err := db.SetRunStatus(ctx, run.ID, "bogus"); err == nil {
		t.Fatal("SetRunStatus accepted an unknown status")
	}
	if err := db.SetRunStatus(ctx, 999, eval.RunComplete); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetRunStatus(999) error = %v, want ErrNotFound", err)
	}
	if err := db.SetRunEndpoints(ctx, run.ID, []string{"http://127.0.0.1:9/v1"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Run(ctx, run.ID); !reflect.DeepEqual(got.Endpoints, []string{"http://127.0.0.1:9/v1"}) {
		t.Fatalf("Endpoints=%v", got.Endpoints)
	}

	other := eval.Run{Lock: "sha256:bb22", Suite: "s2", SuiteHash: "suitehash2", Settings: eval.DefaultSettings()}
	if err := db.CreateRun(ctx, &other); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRunStatus(ctx, other.ID, eval.RunComplete); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		filter store.RunFilter
		want   []int64
	}{
		{store.RunFilter{}, []int64{run.ID, other.ID}},
		{store.RunFilter{Lock: "sha256:aa"}, []int64{run.ID}}, // a prefix
		{store.RunFilter{Lock: "sha256:bb22"}, []int64{other.ID}},
		{store.RunFilter{Lock: "sha256:cc"}, nil},
		{store.RunFilter{Suite: "s2"}, []int64{other.ID}},
		{store.RunFilter{SuiteHash: "suitehash1"}, []int64{run.ID}},
		{store.RunFilter{Status: eval.RunComplete}, []int64{other.ID}},
		{store.RunFilter{Limit: 1}, []int64{other.ID}}, // the newest
	} {
		runs, err := db.Runs(ctx, tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		if !reflect.DeepEqual(ids, tt.want) {
			t.Errorf("Runs(%+v)=%v, want %v", tt.filter, ids, tt.want)
		}
	}
}

func TestCreateRun_RequiresIdentity(t *testing.T) {
	db := MustOpenDB(t)
	for _, run := range []eval.Run{
		{SuiteHash: "h"},
		{Lock: "sha256:aa"},
	} {
		if err := db.CreateRun(context.Background(), &run); err == nil {
			t.Errorf("CreateRun(%+v) succeeded", run)
		}
	}
}

func TestFindResumable(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	settings := eval.DefaultSettings().Hash()
	find := func() int64 {
		t.Helper()
		run, err := db.FindResumable(ctx, "sha256:aa", "suitehash1", settings, "")
		if errors.Is(err, store.ErrNotFound) {
			return 0
		} else if err != nil {
			t.Fatal(err)
		}
		return run.ID
	}
	latest := func() int64 {
		t.Helper()
		run, err := db.LatestCompleteRun(ctx, "sha256:aa", "suitehash1", settings, "")
		if errors.Is(err, store.ErrNotFound) {
			return 0
		} else if err != nil {
			t.Fatal(err)
		}
		return run.ID
	}

	if got := find(); got != 0 {
		t.Fatalf("empty store: FindResumable=%d, want none", got)
	}
	r1 := mustCreateRun(t, db, "sha256:aa")
	mustCreateRun(t, db, "sha256:bb") // another lock never resumes
	if got := find(); got != r1.ID {
		t.Fatalf("running: FindResumable=%d, want %d", got, r1.ID)
	}
	if err := db.SetRunStatus(ctx, r1.ID, eval.RunInterrupted); err != nil {
		t.Fatal(err)
	}
	if got := find(); got != r1.ID {
		t.Fatalf("interrupted: FindResumable=%d, want %d", got, r1.ID)
	}
	if got := latest(); got != 0 {
		t.Fatalf("LatestCompleteRun=%d, want none", got)
	}
	if err := db.SetRunStatus(ctx, r1.ID, eval.RunComplete); err != nil {
		t.Fatal(err)
	}
	if got := find(); got != 0 {
		t.Fatalf("complete: FindResumable=%d, want none", got)
	}
	if got := latest(); got != r1.ID {
		t.Fatalf("LatestCompleteRun=%d, want %d", got, r1.ID)
	}
	r2 := mustCreateRun(t, db, "sha256:aa")
	if got := find(); got != r2.ID {
		t.Fatalf("new run: FindResumable=%d, want %d", got, r2.ID)
	}
	if got := latest(); got != r1.ID {
		t.Fatalf("LatestCompleteRun=%d, want %d (r2 is running)", got, r1.ID)
	}
}

func TestLocks(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	run := mustCreateRun(t, db, "sha256:aa") // records the lock without a manifest
	_ = run
	l, err := db.Lock(ctx, "sha256:aa")
	if err != nil {
		t.Fatal(err)
	}
	if l.Manifest != nil || l.Source != "run" || !l.FirstSeen.Equal(t0) {
		t.Fatalf("lock from a run = %+v", l)
	}

	db.Now = func() time.Time { return t0.Add(time.Hour) }
	manifest := []byte(`{"files":[]}`)
	if err := db.PutLock(ctx, "sha256:aa", manifest, "well-known"); err != nil {
		t.Fatal(err)
	}
	// Storing it again changes neither the manifest nor the source.
	if err := db.PutLock(ctx, "sha256:aa", []byte(`{"other":1}`), "ollama"); err != nil {
		t.Fatal(err)
	}
	l, err = db.Lock(ctx, "sha256:aa")
	if err != nil {
		t.Fatal(err)
	}
	if string(l.Manifest) != string(manifest) || l.Source != "well-known" || !l.FirstSeen.Equal(t0) {
		t.Fatalf("lock after PutLock = %+v", l)
	}

	if err := db.PutLock(ctx, "sha256:bb", []byte(`{not json`), "manifest"); err == nil {
		t.Fatal("PutLock accepted a manifest that is not JSON")
	}
	if err := db.PutLock(ctx, "ollama:sha256:cc", nil, "ollama"); err != nil {
		t.Fatal(err)
	}
	locks, err := db.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(locks), 2; got != want {
		t.Fatalf("len(Locks)=%d, want %d", got, want)
	}
	if _, err := db.Lock(ctx, "sha256:zz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Lock(missing) error = %v, want ErrNotFound", err)
	}
}

// namedScorer is a scorer that only has a name.
type namedScorer string

func (s namedScorer) Name() string                { return string(s) }
func (s namedScorer) Score(out string) eval.Check { return eval.Check{Scorer: string(s)} }

func TestPutSuite(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	five := 5
	suite := eval.Suite{
		Name: "s1", Version: "1", Hash: "suitehash1", Settings: eval.DefaultSettings(),
		Cases: []eval.Case{
			{ID: "a", Messages: []eval.Message{{Role: "user", Content: "hi"}}, Tags: []string{"t"}, Cluster: "p1",
				Overrides: eval.Overrides{MaxTokens: &five}, Scorers: []eval.Scorer{namedScorer("contains")}, Hash: "ha"},
			{ID: "b", Prompt: "raw", Hash: "hb"},
		},
	}
	// A run may record the suite first; PutSuite then adds the cases, and
	// storing the suite twice is harmless.
	mustCreateRun(t, db, "sha256:aa")
	for range 2 {
		if err := db.PutSuite(ctx, suite); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range suite.Cases {
		got, err := db.Case(ctx, suite.Hash, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		want.Scorers = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Case(%s)=%+v\nwant %+v", want.ID, got, want)
		}
	}
	if _, err := db.Case(ctx, suite.Hash, "zz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Case(missing) error = %v, want ErrNotFound", err)
	}
	all, err := db.Cases(ctx, suite.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(all), len(suite.Cases); got != want {
		t.Fatalf("Cases returned %d cases, want %d", got, want)
	}
	for _, want := range suite.Cases {
		want.Scorers = nil
		if got := all[want.ID]; !reflect.DeepEqual(got, want) {
			t.Errorf("Cases()[%s]=%+v\nwant %+v", want.ID, got, want)
		}
	}
	if none, err := db.Cases(ctx, "unknown"); err != nil || len(none) != 0 {
		t.Fatalf("Cases(unknown suite) = %v, %v; want none", none, err)
	}
	if err := db.PutSuite(ctx, eval.Suite{Name: "nohash"}); err == nil {
		t.Fatal("PutSuite accepted a suite without a hash")
	}
}
