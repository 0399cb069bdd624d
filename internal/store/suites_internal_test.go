package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
)

// openSuiteTestDB returns a fresh database at dsn (a file in a temporary
// directory when dsn is empty), closed when the test ends.
func openSuiteTestDB(tb testing.TB, dsn string) *DB {
	tb.Helper()
	if dsn == "" {
		dsn = filepath.Join(tb.TempDir(), "evalpin.db")
	}
	db := NewDB(dsn)
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

// suiteOf returns a suite of n chat cases with hash h.
func suiteOf(h string, n int) eval.Suite {
	s := eval.Suite{Name: "s-" + h, Version: "1", Hash: h, Settings: eval.DefaultSettings()}
	for i := range n {
		id := fmt.Sprintf("case-%06d", i)
		s.Cases = append(s.Cases, eval.Case{ID: id, Messages: []eval.Message{{Role: "user", Content: "prompt " + id}},
			Tags: []string{fmt.Sprintf("t%d", i%3)}, Hash: "h-" + id})
	}
	return s
}

// withChunk sets putSuiteChunk to n for the test.
func withChunk(t *testing.T, n int) {
	old := putSuiteChunk
	putSuiteChunk = n
	t.Cleanup(func() { putSuiteChunk = old })
}

// checkSuiteStored fails t unless every case of s is stored at its position,
// and the suite's settings are.
func checkSuiteStored(t *testing.T, db *DB, s eval.Suite) {
	t.Helper()
	ctx := context.Background()
	var settingsSet bool
	if err := db.db.QueryRowContext(ctx, `SELECT settings IS NOT NULL FROM suites WHERE hash = ?`, s.Hash).Scan(&settingsSet); err != nil {
		t.Fatal(err)
	}
	if !settingsSet {
		t.Errorf("suite %s: settings not stored", s.Hash)
	}
	rows, err := db.db.QueryContext(ctx, `SELECT case_id, position FROM cases WHERE suite_hash = ? ORDER BY position`, s.Hash)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var id string
		var pos int
		if err := rows.Scan(&id, &pos); err != nil {
			t.Fatal(err)
		}
		if i >= len(s.Cases) || id != s.Cases[i].ID || pos != i {
			t.Fatalf("stored case %d: %s at position %d; want %d cases in suite order", i, id, pos, len(s.Cases))
		}
		i++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(s.Cases) {
		t.Fatalf("%d cases stored, want %d", i, len(s.Cases))
	}
}

// PutSuite stores the cases in chunks, whatever the chunk size; stores
// nothing when every case is stored already; and completes a suite stored
// only in part.
func TestPutSuiteChunksAndSkips(t *testing.T) {
	withChunk(t, 3)
	ctx := context.Background()
	tests := []struct {
		name  string
		cases int
		// before prepares the database for the second PutSuite.
		before string
		// write: whether the second PutSuite must insert cases.
		write bool
	}{
		{"empty suite", 0, ``, false},
		{"fewer than a chunk", 2, ``, false},
		{"one chunk exactly", 3, ``, false},
		{"several chunks", 10, ``, false},
		{"a case lost", 10, `DELETE FROM cases WHERE case_id = 'case-000004'`, true},
		{"unfinished: no settings", 10, `UPDATE suites SET settings = NULL`, true},
		{"unfinished: only the first chunk", 10, `UPDATE suites SET settings = NULL; DELETE FROM cases WHERE position >= 3`, true},
		{"recorded by a run only", 7, `DELETE FROM cases; UPDATE suites SET settings = NULL`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openSuiteTestDB(t, "")
			s := suiteOf("hash-"+tt.name, tt.cases)
			if err := db.PutSuite(ctx, s); err != nil {
				t.Fatal(err)
			}
			checkSuiteStored(t, db, s)
			if tt.before != "" {
				if _, err := db.db.ExecContext(ctx, tt.before); err != nil {
					t.Fatal(err)
				}
			}
			// A trigger counts the insert attempts into cases (ON CONFLICT
			// DO NOTHING included: a BEFORE trigger fires before the
			// conflict is found).
			if _, err := db.db.ExecContext(ctx, `
				CREATE TABLE inserts (n INTEGER NOT NULL);
				INSERT INTO inserts VALUES (0);
				CREATE TRIGGER count_inserts BEFORE INSERT ON cases BEGIN UPDATE inserts SET n = n + 1; END`); err != nil {
				t.Fatal(err)
			}
			if err := db.PutSuite(ctx, s); err != nil {
				t.Fatal(err)
			}
			checkSuiteStored(t, db, s)
			var n int
			if err := db.db.QueryRowContext(ctx, `SELECT n FROM inserts`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if got := n > 0; got != tt.write {
				t.Fatalf("second PutSuite tried %d inserts; want inserts: %v", n, tt.write)
			}
		})
	}
}

// A PutSuite that fails half-way (here, an insert of the second chunk)
// keeps the chunks before it and leaves the suite unfinished, and the next
// one completes it.
func TestPutSuiteResumesAfterFailure(t *testing.T) {
	withChunk(t, 4)
	db := openSuiteTestDB(t, "")
	s := suiteOf("partial", 10)
	if _, err := db.db.Exec(`CREATE TRIGGER fail_second_chunk BEFORE INSERT ON cases WHEN NEW.position = 5
		BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSuite(context.Background(), s); err == nil {
		t.Fatal("PutSuite succeeded despite a failed insert")
	}
	var settingsSet bool
	var n int
	if err := db.db.QueryRow(`SELECT settings IS NOT NULL, (SELECT count(*) FROM cases) FROM suites`).Scan(&settingsSet, &n); err != nil {
		t.Fatal(err)
	}
	if settingsSet || n != 4 {
		t.Fatalf("after a failed PutSuite: settings stored %v, %d cases; want no settings and the first chunk of 4", settingsSet, n)
	}
	if _, err := db.db.Exec(`DROP TRIGGER fail_second_chunk`); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSuite(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	checkSuiteStored(t, db, s)
}

// PutSuite and a Writer share SQLite's single writer: storing a suite while
// results are written finishes both, on a file (several connections, busy
// timeout) and in memory (one connection).
func TestPutSuiteWhileWriting(t *testing.T) {
	withChunk(t, 200)
	for _, dsn := range []string{"", ":memory:"} {
		t.Run(fmt.Sprintf("dsn=%q", dsn), func(t *testing.T) {
			ctx := context.Background()
			db := openSuiteTestDB(t, dsn)
			s := suiteOf("concurrent", 3000)
			run := eval.Run{Lock: "sha256:aa", Suite: s.Name, SuiteVersion: s.Version, SuiteHash: s.Hash,
				Settings: s.Settings, Endpoints: []string{}, Version: "test"}
			if err := db.CreateRun(ctx, &run); err != nil {
				t.Fatal(err)
			}
			w := db.NewWriter(ctx, run.ID, WriterOptions{BatchSize: 64, FlushInterval: time.Millisecond})
			var wg sync.WaitGroup
			var putErr error
			wg.Go(func() { putErr = db.PutSuite(ctx, s) })
			for _, c := range s.Cases {
				if err := w.Put(eval.Result{CaseID: c.ID, CaseHash: c.Hash, Output: "out", Lock: run.Lock}); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if putErr != nil {
				t.Fatal(putErr)
			}
			checkSuiteStored(t, db, s)
			if got, want := w.Stored(), int64(len(s.Cases)); got != want {
				t.Fatalf("writer stored %d results, want %d", got, want)
			}
		})
	}
}

// BenchmarkPutSuite stores a 10,000-case suite into a new database ("new"),
// and again into one that has it ("stored"), the cost of every run after
// the first.
func BenchmarkPutSuite(b *testing.B) {
	s := suiteOf("bench", 10_000)
	ctx := context.Background()
	b.Run("new", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			db := openSuiteTestDB(b, "")
			s.Hash = fmt.Sprintf("bench-%d", i)
			b.StartTimer()
			if err := db.PutSuite(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stored", func(b *testing.B) {
		db := openSuiteTestDB(b, "")
		if err := db.PutSuite(ctx, s); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := db.PutSuite(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
