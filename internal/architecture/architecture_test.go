package architecture

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/evalpin/evalpin/"

// allowed lists, for each package of the module, the packages of the module
// it may import besides the leaves (docs/architecture.md draws the same
// graph). A package that is not listed may import the leaves only.
var allowed = map[string][]string{
	// Leaves: the standard library and at most one another leaf.
	"internal/fault":     {},
	"internal/untrusted": {},
	"internal/lockid":    {},
	"internal/secret":    {},
	"internal/canonjson": {},
	"eval/stats":         {},
	"internal/cli":       {"internal/fault"},
	"internal/interrupt": {},
	"internal/outfile":   {"internal/fault", "internal/secret"},
	"internal/project":   {"internal/cli", "internal/fault"},
	"internal/progress":  {},
	"internal/lineage":   {"internal/fault", "internal/lockid", "internal/outfile", "internal/untrusted"},
	"internal/ollama":    {"internal/lockid", "internal/untrusted"},
	// The domain and the work on it.
	"eval":         {"internal/lockid"},
	"eval/score":   {"eval"},
	"eval/compare": {"eval", "eval/stats", "internal/fault"},
	"suites":       {"eval", "eval/score", "internal/canonjson", "internal/fault"},
	// Lock manifests, identities, endpoints, the sidecar.
	"internal/lock":     {"internal/canonjson", "internal/fault", "internal/lockid", "internal/untrusted"},
	"internal/identity": {"internal/lock", "internal/lockid", "internal/ollama", "internal/untrusted"},
	"internal/endpoint": {"eval", "internal/fault", "internal/lock", "internal/lockid", "internal/ollama", "internal/untrusted"},
	// The sidecar reads what a lock says the engine must serve (the locked
	// Modelfile, its files' hashes) from the lock's manifest: internal/lock,
	// which knows no statistics and stores nothing.
	"internal/serve": {"internal/fault", "internal/lock", "internal/lockid", "internal/ollama", "internal/untrusted"},
	// Which key and password go to which endpoint, and the client that
	// sends them there only.
	"internal/credentials": {"internal/fault", "internal/secret", "internal/untrusted"},
	// Replay, storage, files, rendering.
	"runner":         {"eval", "internal/fault", "internal/lockid", "internal/untrusted"},
	"internal/store": {"eval", "internal/fault", "internal/lockid", "internal/secret"},
	"baselines":      {"eval", "internal/fault", "internal/lockid", "internal/secret"},
	"report":         {"eval", "eval/compare", "eval/stats", "internal/fault", "internal/lineage", "internal/lockid", "internal/outfile", "internal/untrusted"},
	// A run's lifecycle: the one place the runner, the lock checks and the
	// store meet, so that every command that runs shares it. It also names
	// and loads the runs a command compares or exports, from the store or
	// from baseline files, whose identity documents it verifies.
	// The CI gate in one command: the baseline picked, the candidate run,
	// the comparison.
	"internal/gate": {"eval", "eval/compare", "internal/endpoint", "internal/lineage", "internal/lockid", "internal/runs", "internal/store", "internal/untrusted"},
	// Incident playback: the cases (stored, or an incident log made an
	// ad-hoc suite, parsed and hashed by suites), the run under the old
	// lock, the outputs then beside the outputs now.
	"internal/replay": {"eval", "internal/endpoint", "internal/fault", "internal/lockid", "internal/runs", "internal/store", "internal/untrusted", "suites"},
	// Forks side by side: the selectors resolved against the store, each
	// fork compared with the first, the p-values adjusted across the matrix.
	"internal/forks": {"eval", "eval/compare", "eval/stats", "internal/fault", "internal/gate", "internal/lockid", "internal/runs", "internal/store", "internal/untrusted"},
	// A loaded side of a comparison is held as compare.Results.
	"internal/runs": {"baselines", "eval", "eval/compare", "internal/endpoint", "internal/fault", "internal/identity",
		"internal/lockid", "internal/outfile", "internal/store", "internal/untrusted", "runner"},
}

// never lists packages of the module or beyond that a package must not
// depend on, directly or not: the "never" edges of docs/architecture.md.
var never = []struct {
	pkg, dep, why string
}{
	{"internal/serve", "gonum.org/", "the sidecar proxies requests; it knows no statistics"},
	{"internal/serve", module + "eval", "the sidecar speaks the lock protocol only"},
	{"internal/serve", "github.com/mattn/go-sqlite3", "the sidecar stores nothing"},
	{"eval/stats", "database/sql", "the statistics know no database"},
	{"eval/compare", "database/sql", "the statistics know no database"},
	{"eval/compare", module + "internal/store", "the comparison takes runs, not rows"},
	{"report", module + "internal/store", "the renderers take comparisons and rows, not the store"},
	{"report", "github.com/mattn/go-sqlite3", "the renderers take comparisons and rows, not the store"},
	{"runner", module + "internal/store", "the runner hands results to a sink"},
	{"runner", module + "internal/endpoint", "the runner checks responses through a function the command wires"},
	{"runner", "github.com/schollz/progressbar", "the runner does not draw"},
	{"runner", "golang.org/x/term", "the runner does not draw"},
	{"internal/endpoint", module + "internal/store", "probing stores nothing"},
	{"internal/runs", module + "report", "a run's lifecycle renders nothing"},
	{"internal/replay", module + "report", "a playback renders nothing: the command hands it to report"},
	{"internal/forks", module + "report", "the matrix of forks renders nothing; report renders it"},
	{"eval", "gonum.org/", "the domain types import no third-party package"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func list(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "github.com/evalpin/evalpin/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var ps []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

// leaves are the packages anything may import.
var leaves = []string{"internal/fault", "internal/untrusted", "internal/lockid"}

func TestImports(t *testing.T) {
	for _, p := range list(t) {
		name := strings.TrimPrefix(p.ImportPath, module)
		if strings.HasPrefix(name, "cmd/") || strings.HasPrefix(name, "internal/testbed") ||
			strings.HasPrefix(name, "internal/stubserver") || strings.HasPrefix(name, "internal/architecture") {
			continue // wiring, and the test beds
		}
		ok, listed := allowed[name]
		for _, imp := range p.Imports {
			dep, mine := strings.CutPrefix(imp, module)
			if !mine {
				continue
			}
			if !slices.Contains(leaves, dep) && !(listed && slices.Contains(ok, dep)) {
				t.Errorf("%s imports %s, which docs/architecture.md does not allow it", name, dep)
			}
		}
		for _, n := range never {
			if n.pkg != name {
				continue
			}
			for _, d := range p.Deps {
				if d == n.dep || strings.HasPrefix(d, n.dep) && (strings.HasSuffix(n.dep, "/") || strings.HasPrefix(d, n.dep+"/")) {
					t.Errorf("%s depends on %s: %s", name, d, n.why)
				}
			}
		}
	}
}

// Only the store talks to SQLite.
func TestOneStore(t *testing.T) {
	for _, p := range list(t) {
		if slices.Contains(p.Imports, "github.com/mattn/go-sqlite3") && p.ImportPath != module+"internal/store" {
			t.Errorf("%s imports the SQLite driver; only internal/store may", p.ImportPath)
		}
	}
}
