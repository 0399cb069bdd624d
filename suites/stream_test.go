package suites

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalpin/evalpin/eval"
)

// withSortRun makes the hash sorter spill every n hashes while t runs.
func withSortRun(t *testing.T, n int) {
	old := sortRun
	sortRun = n
	t.Cleanup(func() { sortRun = old })
}

// writeTemp writes data to name in a new temporary directory.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSorterHashEqualsSuiteHash: the hash a suite's case hashes make when
// added one at a time to the sorter — held, or spilled in runs and merged —
// is suiteHash's, on the bundled suites.
func TestSorterHashEqualsSuiteHash(t *testing.T) {
	for _, name := range ExampleNames() {
		s, err := LoadExample(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, run := range []int{1 << 15, 1, 2, 3} {
			t.Run(fmt.Sprintf("%s/run=%d", name, run), func(t *testing.T) {
				withSortRun(t, run)
				hs := newHashSorter()
				defer hs.close()
				for _, c := range s.Cases {
					if err := hs.addHash(c.Hash); err != nil {
						t.Fatal(err)
					}
				}
				got, err := hs.suiteHash(s.Settings)
				if err != nil {
					t.Fatal(err)
				}
				if got != s.Hash {
					t.Errorf("streamed hash %s, loaded %s", got, s.Hash)
				}
			})
		}
	}
}

// TestStreamEqualsLoad: a JSONL suite scanned and walked a case at a time
// has the hash, cases, case hashes and order of the suite Load returns.
func TestStreamEqualsLoad(t *testing.T) {
	base, err := os.ReadFile("testdata/good/base.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		run  int
	}{
		{"base", base, 1 << 15},
		{"base-spilled", base, 1},
		{"contains-regex-1k", containsRegexSuite(1000), 100},
		{"number-length-1k", jsonlSuite(1000), 333},
		{"regex-500", regexSuite(500), 1 << 15},
		{"crlf-bom-blank", append([]byte("\ufeff"), bytes.ReplaceAll(jsonlSuite(50), []byte("\n"), []byte("\r\n\n"))...), 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withSortRun(t, tc.run)
			path := writeTemp(t, "s.jsonl", tc.data)
			want, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			st, err := Scan(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := st.Suite()
			if got.Hash != want.Hash || got.Name != want.Name || got.Version != want.Version || got.Settings.Hash() != want.Settings.Hash() || got.Len() != len(want.Cases) {
				t.Fatalf("streamed %s %s %s %d cases, loaded %s %s %s %d", got.Hash, got.Name, got.Version, got.Len(), want.Hash, want.Name, want.Version, len(want.Cases))
			}
			i, keys := 0, map[int]bool{}
			err = st.Walk(func(k int, c *eval.Case) bool {
				if w := want.Cases[i]; c.ID != w.ID || c.Hash != w.Hash || c.Prompt != w.Prompt || len(c.Scorers) != len(w.Scorers) {
					t.Errorf("case %d: %s %s, want %s %s", i, c.ID, c.Hash, w.ID, w.Hash)
				}
				if kk, ok := st.Key(c.ID); !ok || kk != k || keys[k] {
					t.Errorf("case %s: key %d (Key %d %v), seen %v", c.ID, k, kk, ok, keys[k])
				}
				keys[k] = true
				i++
				return true
			})
			if err != nil || i != len(want.Cases) {
				t.Fatalf("walk: %d cases, %v", i, err)
			}
			if _, ok := st.Key("no-such-case"); ok {
				t.Error("Key found a case the suite does not have")
			}
		})
	}
}

// TestScanErrors: a JSONL suite with problems is refused by Scan with
// Load's error, word for word: the bad test suites, duplicate ids (found by
// their hashes, confirmed by a second reading), more problems than listed.
func TestScanErrors(t *testing.T) {
	cases := map[string][]byte{}
	bad, _ := fs.Glob(os.DirFS("testdata/bad"), "*.jsonl")
	for _, b := range bad {
		data, err := os.ReadFile(filepath.Join("testdata/bad", b))
		if err != nil {
			t.Fatal(err)
		}
		cases[b] = data
	}
	good := jsonlSuite(20)
	dup := bytes.Replace(good, []byte(`"case-000007"`), []byte(`"case-000003"`), 1)
	cases["duplicate"] = dup
	cases["duplicate-thrice"] = bytes.Replace(dup, []byte(`"case-000011"`), []byte(`"case-000003"`), 1)
	cases["duplicate-and-bad"] = bytes.Replace(dup, []byte(`"max_words": 5`), []byte(`"max_words": -5`), -1)
	cases["many"] = bytes.ReplaceAll(jsonlSuite(120), []byte(`"max_words": 5`), []byte(`"max_words": "five"`))
	// Over several of Scan's batches of lines, parsed apart and counted in
	// file order: problems spread across them, a duplicate id far from its
	// first, a file without a header.
	large := jsonlSuite(3*batchLines + 17)
	cases["many-batches"] = bytes.ReplaceAll(large, []byte(`"max_words": 5`), []byte(`"max_words": "five"`))
	cases["sparse-batches"] = bytes.Replace(bytes.Replace(large, []byte(`"case-000300"`), []byte(`"case-000300", "x": 1`), 1),
		[]byte(`"case-000700"`), []byte(`"case-000002"`), 1)
	cases["headerless-batches"] = bytes.Replace(bytes.SplitN(large, []byte("\n"), 2)[1], []byte(`"max_words": 5`), []byte(`"max_words": -5`), 1)
	cases["no-cases"] = []byte(`{"suite": {"name": "x"}}` + "\n\n")
	cases["empty"] = []byte("\n \n")
	cases["headerless"] = bytes.SplitN(good, []byte("\n"), 2)[1]
	cases["bad-header"] = append([]byte(`{"suite": {"name": "", "cases": []}}`+"\n"), bytes.SplitN(good, []byte("\n"), 2)[1]...)
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			path := writeTemp(t, "s.jsonl", data)
			_, want := Load(path)
			for _, index := range []bool{true, false} {
				withSortRun(t, 3) // the ids' hashes spilled too
				_, got := scanFile(path, nil, index)
				if want == nil || got == nil || got.Error() != want.Error() {
					t.Errorf("index %v: Scan: %v\nLoad: %v", index, got, want)
				}
			}
		})
	}
}

// TestStreamChanged: a suite file changed after it was checked is refused
// by Walk, whether its content changed or only its metadata says it may
// have; and a cached hash the file does not have is refused on first use.
func TestStreamChanged(t *testing.T) {
	data := jsonlSuite(30)
	for _, tc := range []struct {
		name   string
		change func(path string) error
	}{
		{"edited", func(p string) error {
			return os.WriteFile(p, bytes.Replace(data, []byte("What is 3 plus"), []byte("What is 4 plus"), 1), 0o644)
		}},
		{"grown", func(p string) error {
			return os.WriteFile(p, append(slicesClone(data), `{"id": "new", "prompt": "x"}`+"\n"...), 0o644)
		}},
		{"touched", func(p string) error { return os.Chtimes(p, time.Now().Add(time.Hour), time.Now().Add(time.Hour)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "s.jsonl", data)
			st, err := Scan(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.change(path); err != nil {
				t.Fatal(err)
			}
			err = st.Walk(func(int, *eval.Case) bool { return true })
			if err == nil || !strings.Contains(err.Error(), "changed while the run read it") {
				t.Errorf("walk of a changed file: %v", err)
			}
		})
	}
	t.Run("cached", func(t *testing.T) {
		path := writeTemp(t, "s.jsonl", data)
		st, err := Scan(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, hash := range []string{st.suite.Hash, strings.Repeat("0", 64)} {
			s, err := OpenStream(path, func(id string) (string, int, bool) { return hash, st.n, id == string(st.file) })
			if err != nil {
				t.Fatal(err)
			}
			if s.Hash != hash || s.Len() != 30 || s.Name != "big" {
				t.Fatalf("cached suite %s %d %s", s.Hash, s.Len(), s.Name)
			}
			n := 0
			err = s.Source.Walk(func(int, *eval.Case) bool { n++; return true })
			if ok := hash == st.suite.Hash; ok != (err == nil) || ok && n != 30 {
				t.Errorf("cached hash %.8s: walked %d cases, %v", hash, n, err)
			}
		}
	})
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

// TestStreamChangedUnseen: a suite file edited so soon after it was checked
// that its identity looks unchanged (timestamps of a coarse clock, the same
// size and inode) is refused by Walk all the same, before it yields the case
// of the line that changed, and the hashes it yields are those Scan computed.
func TestStreamChangedUnseen(t *testing.T) {
	data := jsonlSuite(30)
	for _, tc := range []struct {
		name, old, new string
		// yielded is how many cases Walk yields before it refuses the file.
		yielded int
	}{
		{"case edited", "What is 3 plus", "What is 4 plus", 3},
		{"last case edited", "What is 29 plus", "What is 28 plus", 29},
		{"header edited", `"max_tokens": 32`, `"max_tokens": 33`, 0},
		{"unchanged", "", "", 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "s.jsonl", data)
			st, err := Scan(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			st.Walk(func(_ int, c *eval.Case) bool { want = append(want, c.Hash); return true })
			loaded, err := Parse("s.jsonl", data)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range loaded.Cases {
				if want[i] != c.Hash {
					t.Fatalf("case %d: Walk yields hash %s, Parse computes %s", i, want[i], c.Hash)
				}
			}
			if err := os.WriteFile(path, bytes.Replace(data, []byte(tc.old), []byte(tc.new), 1), 0o644); err != nil {
				t.Fatal(err)
			}
			id, err := Identify(path)
			if err != nil {
				t.Fatal(err)
			}
			st.file = id // as a clock that did not tick would leave it
			n := 0
			err = st.Walk(func(int, *eval.Case) bool { n++; return true })
			if unchanged := tc.old == ""; unchanged != (err == nil) || !unchanged && !strings.Contains(err.Error(), "changed while the run read it") {
				t.Errorf("walk: %v", err)
			}
			if n != tc.yielded {
				t.Errorf("walk yielded %d cases, want %d", n, tc.yielded)
			}
		})
	}
}

// TestCheckStreamedDescribesAsLoaded: suite check of a JSONL file, read a
// case at a time without an index of its ids, describes what Describe
// says of the loaded suite.
func TestCheckStreamedDescribesAsLoaded(t *testing.T) {
	withSortRun(t, 16)
	path := writeTemp(t, "s.jsonl", jsonlSuite(300))
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var want, got bytes.Buffer
	Describe(&want, path, s)
	if err := Check(&got, nil, []string{path}); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() || !strings.Contains(got.String(), "300 (300 chat") {
		t.Errorf("check:\n%s\nDescribe:\n%s", got.String(), want.String())
	}
}
