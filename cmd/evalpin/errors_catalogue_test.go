package main

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
)

// errorsDoc is the error catalogue TestErrorCatalogue writes with -update.
const errorsDoc = "../../docs/errors.md"

// An errorCase is one malformed input given to the real command line.
type errorCase struct {
	name string   // what is wrong, in a few words
	args []string // the command line; $TMP, $URL and $LOCK are replaced in the catalogue
	exit int      // the exit code
	// names is what the message must name: the file, the field or the line
	// (a fragment of stderr); "" for an accepted input.
	names string
	note  string // why the exit is what it is, where that is not obvious
	// nobody runs the command as user nobody where the test runs as root,
	// to whom no file is read-only (asNobody).
	nobody bool
	env    map[string]string // environment variables of the command
}

// errorFixtures are the files the catalogue's inputs name.
type errorFixtures struct {
	dir, db, url, lock string
}

// file writes data to name in the fixtures' directory and returns its path.
func (f errorFixtures) file(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestErrorCatalogue gives the command line malformed inputs, checks that
// each ends with its documented exit code (2 for an input error), an
// "evalpin:" message naming the file, field or line, a "Try:" line with the
// fix, and no stack trace nor internal error (exit 5); and that
// docs/errors.md, which lists them, is current (-update rewrites it).
func TestErrorCatalogue(t *testing.T) {
	a := runQuiet(t)
	ctx := context.Background()
	f := errorFixtures{dir: t.TempDir()}
	fake := newRunFake(runLockA)
	f.url, f.lock = fake.start(t), runLockA
	f.db = filepath.Join(f.dir, "evalpin.db")
	suite := runSuiteFile(t, f.dir, 3)
	runArgs := func(extra ...string) []string {
		args := append([]string{"run", "--suite", suite, "--endpoint", f.url, "--no-progress"}, extra...)
		if !slices.Contains(extra, "--db") {
			args = append(args, "--db", f.db)
		}
		return args
	}
	if code, _, stderr := a.cmd(ctx, runArgs()...); code != fault.ExitOK {
		t.Fatalf("fixture run: exit %d\n%s", code, stderr)
	}
	cases := slices.Concat(
		commandLineErrors(t, f, runArgs),
		databaseErrors(t, f, runArgs),
		baselineErrors(t, f),
		suiteErrors(t, f),
		policyErrors(t, f),
		lockErrors(t, f),
		projectErrors(t, f),
	)
	if len(cases) < 40 {
		t.Errorf("the catalogue has %d inputs, want at least 40", len(cases))
	}
	var doc bytes.Buffer
	doc.WriteString(errorsDocHead)
	for _, c := range cases {
		var (
			code   int
			stderr string
		)
		if c.nobody && os.Geteuid() == 0 {
			code, stderr = asNobody(t, c.args)
		} else {
			b := *a
			// No project file but the case's: an evalpin.yaml above the
			// test's directory would change the answers.
			b.getenv = func(k string) string {
				return cmp.Or(c.env[k], map[string]string{"EVALPIN_PROJECT": "none"}[k], os.Getenv(k))
			}
			code, _, stderr = b.cmd(ctx, c.args...)
		}
		t.Run(c.name, func(t *testing.T) {
			checkErrorCase(t, c, code, stderr)
		})
		writeErrorCase(&doc, f, c, code, stderr)
	}
	checkDoc(t, errorsDoc, doc.Bytes())
}

// envCatalogueArgs carries the command line asNobody runs in the child.
const envCatalogueArgs = "EVALPIN_CATALOGUE_ARGS"

// asNobody runs the command line args as user nobody, in a copy of the test
// binary running TestErrorCatalogueAsNobody, and returns its exit code and
// stderr. The files args name must be reachable by nobody.
func asNobody(t *testing.T, args []string) (int, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "catalogue-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "evalpin.test")
	data, err := os.ReadFile(os.Args[0])
	if err == nil {
		err = errors.Join(os.Chmod(dir, 0o755), os.WriteFile(bin, data, 0o755))
	}
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := json.Marshal(args)
	cmd := exec.Command(bin, "-test.run=^TestErrorCatalogueAsNobody$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCatalogueArgs+"="+string(enc), "HOME="+dir, "EVALPIN_PROJECT=none")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
		t.Skipf("cannot run as nobody here, so the catalogue is not checked: %v", err)
	}
	var res struct {
		Code   int
		Stderr string
	}
	if _, after, ok := strings.Cut(string(out), "catalogue:"); !ok || json.Unmarshal([]byte(strings.SplitN(after, "\n", 2)[0]), &res) != nil {
		t.Fatalf("the command as nobody: %v\n%s", err, out)
	}
	return res.Code, res.Stderr
}

// TestErrorCatalogueAsNobody runs the command line of asNobody.
func TestErrorCatalogueAsNobody(t *testing.T) {
	var args []string
	if os.Getenv(envCatalogueArgs) == "" || json.Unmarshal([]byte(os.Getenv(envCatalogueArgs)), &args) != nil {
		t.Skip("run by TestErrorCatalogue")
	}
	code, _, stderr := runQuiet(t).cmd(context.Background(), args...)
	out, _ := json.Marshal(map[string]any{"Code": code, "Stderr": stderr})
	fmt.Printf("catalogue:%s\n", out)
}

// checkErrorCase holds one input's outcome to the catalogue's bar.
func checkErrorCase(t *testing.T, c errorCase, code int, stderr string) {
	t.Helper()
	if code != c.exit {
		t.Errorf("exit %d, want %d\n%s", code, c.exit, stderr)
	}
	if code == fault.ExitInternal || strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic:") {
		t.Errorf("an internal error or a stack trace:\n%s", stderr)
	}
	if c.exit == fault.ExitOK {
		return
	}
	for _, want := range []string{"evalpin: ", c.names, "\nTry: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// checkDoc compares the file path with want, or writes it under -update.
func checkDoc(t *testing.T, path string, want []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		os.WriteFile(path+".got", want, 0o644)
		t.Errorf("%s is stale (%v); the current catalogue is in %s.got; rewrite it with go test ./cmd/evalpin -run TestErrorCatalogue -update", path, err, path)
	}
}

// checksums are the SHA-256 sums of a baseline file in an error.
var checksums = regexp.MustCompile(`(hashes to|line says) [0-9a-f]{64}`)

// writeErrorCase adds one input's entry to the catalogue.
func writeErrorCase(w *bytes.Buffer, f errorFixtures, c errorCase, code int, stderr string) {
	r := strings.NewReplacer(f.dir, "$TMP", f.url, "$URL", f.lock, "$LOCK")
	args := make([]string, len(c.args))
	for i, arg := range c.args {
		args[i] = r.Replace(arg)
		if strings.ContainsAny(args[i], " ?#*\"'") {
			args[i] = "'" + args[i] + "'"
		}
	}
	var env []string
	for _, k := range slices.Sorted(maps.Keys(c.env)) {
		env = append(env, k+"="+r.Replace(c.env[k]))
	}
	fmt.Fprintf(w, "\n### %s\n\n    %s\n\nExit %d.", c.name, strings.Join(slices.Concat(env, []string{"evalpin"}, args), " "), code)
	if c.note != "" {
		fmt.Fprintf(w, " %s", c.note)
	}
	w.WriteString("\n")
	// A baseline's checksum covers the run's times.
	stderr = checksums.ReplaceAllString(strings.TrimSpace(r.Replace(stderr)), "$1 <sha256>")
	if i := strings.Index(stderr, "evalpin: "); i > 0 {
		// Only the error; what comes before is the command's usage or
		// progress.
		stderr = "…\n" + stderr[i:]
	}
	if stderr != "" {
		w.WriteString("\n")
		for line := range strings.SplitSeq(stderr, "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
}

const errorsDocHead = `# Errors: malformed inputs and what evalpin says

Generated by TestErrorCatalogue (cmd/evalpin/errors_catalogue_test.go), which
gives each input below to the real command line and fails when this page is
stale; ` + "`go test ./cmd/evalpin -run TestErrorCatalogue -update`" + ` rewrites it.
$TMP is the test's directory, $URL a fake OpenAI-compatible endpoint serving
lock $LOCK.

Every input error exits 2 (the table of exit codes is in ` + "`evalpin help`" + `)
with one "evalpin:" line naming the file, field or line, and a "Try:" line
with the fix; none ends in a stack trace or exit 5 (internal error).

## What protects a baseline file

A baseline file ends with a SHA-256 line over its content. It catches a file
that was damaged, truncated, or edited by hand and not resealed. It is a
checksum, not a signature: anyone who edits a baseline can recompute it, and
evalpin then accepts the edited outputs (see "a baseline edited and resealed"
below). What it refuses however resealed is an edited lock manifest: when the file
carries its lock's manifest (or Ollama identity), the header's lock id is
recomputed from it. A lock the endpoint only declared has no such document. What protects a baseline
is where it lives: commit it to git and review every change to it as you
review code (a baseline changes only by ` + "`evalpin baseline export`" + ` in a
reviewed commit). Signed baselines are out of scope.

## Line endings and byte order marks

A baseline file is written with LF line endings and no byte order mark, and
read byte for byte, as its checksum covers the bytes: a file whose line
endings were converted to CRLF (git's core.autocrlf, an editor on Windows) or
given a BOM is refused, naming the line, with the fix (restore it from git;
mark baseline files ` + "`-text`" + ` in .gitattributes). Suite files are text
for people to edit: a BOM is skipped and CRLF line endings are read as LF.

## The catalogue
`

// commandLineErrors are unknown commands, flags and values.
func commandLineErrors(t *testing.T, f errorFixtures, runArgs func(...string) []string) []errorCase {
	return []errorCase{
		{name: "no command", args: nil, exit: 2, names: "no command"},
		{name: "an unknown command", args: []string{"frobnicate"}, exit: 2, names: `"frobnicate"`},
		{name: "an unknown subcommand", args: []string{"lock", "frobnicate"}, exit: 2, names: "frobnicate"},
		{name: "an unknown flag", args: []string{"runs", "--colour", "--db", f.db}, exit: 2, names: "colour"},
		{name: "a flag without its value", args: []string{"runs", "--db"}, exit: 2, names: "-db"},
		{name: "--max-tokens beyond an int32", args: runArgs("--max-tokens", "2147483648000"), exit: 2, names: "--max-tokens"},
		{name: "--max-tokens zero", args: runArgs("--max-tokens", "0"), exit: 2, names: "--max-tokens"},
		{name: "--samples not a number", args: runArgs("--samples", "three"), exit: 2, names: "samples"},
		{name: "--temperature negative", args: runArgs("--temperature", "-1"), exit: 2, names: "--temperature"},
		{name: "--timeout without a unit", args: runArgs("--timeout", "30"), exit: 2, names: "timeout"},
		{name: "run without a suite", args: []string{"run", "--endpoint", f.url, "--db", f.db}, exit: 2, names: "--suite"},
		{name: "an endpoint that is not a URL", args: []string{"run", "--suite", filepath.Join(f.dir, "suite.yaml"), "--endpoint", "localhost:8000", "--db", f.db}, exit: 2, names: "localhost:8000"},
		{name: "an unknown report format", args: []string{"diff", "--baseline", "1", "--candidate", "1", "--format", "pdf", "--db", f.db}, exit: 2, names: "pdf"},
		{name: "a run id that is not a number", args: []string{"show", "one", "--db", f.db}, exit: 2, names: `"one"`},
		{name: "a run that does not exist", args: []string{"show", "99", "--db", f.db}, exit: 2, names: "99"},
		{name: "--expect-lock that is not a lock id", args: runArgs("--expect-lock", "sha256:abc"), exit: 2, names: "sha256:abc"},
	}
}

// databaseErrors are database files evalpin cannot use.
func databaseErrors(t *testing.T, f errorFixtures, runArgs func(...string) []string) []errorCase {
	copyDB := func(name string) string {
		data, err := os.ReadFile(f.db)
		if err != nil {
			t.Fatal(err)
		}
		return f.file(t, name, string(data))
	}
	damaged := copyDB("damaged.db")
	dbDamagePage(t, damaged, dbRootPage(t, damaged, "runs"))
	damagedResults := copyDB("damaged-results.db")
	dbDamagePage(t, damagedResults, dbTablePageHolding(t, damagedResults, "echo: prompt case-001"))
	newer := copyDB("newer.db")
	raw, err := sql.Open("sqlite3", newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO migrations (name, applied) VALUES ('migration/9999_future.sql', '')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	text := f.file(t, "notes.txt", strings.Repeat("not a database; ", 10))
	// A read-only file in a directory anyone may write, and a database in a
	// read-only directory; nobody reaches them (asNobody).
	roFile, roDir := filepath.Join(f.dir, "rw", "ro.db"), filepath.Join(f.dir, "ro")
	for _, d := range []string{filepath.Dir(f.dir), f.dir, filepath.Dir(roFile), roDir} {
		if err := errors.Join(os.MkdirAll(d, 0o755), os.Chmod(d, 0o755)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{roFile, filepath.Join(roDir, "evalpin.db")} {
		data, err := os.ReadFile(f.db)
		if err != nil || os.WriteFile(p, data, 0o444) != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(os.Chmod(filepath.Dir(roFile), 0o777), os.Chmod(roDir, 0o555), os.Chmod(f.db, 0o666)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(roDir, 0o755) })
	empty := f.file(t, "empty.db", "")
	return []errorCase{
		{name: "a database whose pages are damaged", args: []string{"runs", "--db", damaged}, exit: 2, names: damaged},
		{name: "a database whose results are damaged, listed", args: []string{"runs", "--db", damagedResults}, exit: 0,
			note: "Listed: every command checks the tables of runs, locks and suites when it opens the database (microseconds), not the results, " +
				"which grow to gigabytes; the command that reads a damaged result refuses it (below), and runs --check reads the whole file first."},
		{name: "a database whose results are damaged, checked", args: []string{"runs", "--check", "--db", damagedResults}, exit: 2, names: damagedResults},
		{name: "a database whose results are damaged", args: []string{"show", "1", "--db", damagedResults}, exit: 2, names: damagedResults},
		{name: "a file that is not SQLite", args: []string{"runs", "--db", text}, exit: 2, names: text},
		{name: "an empty database file", args: []string{"runs", "--db", empty}, exit: 0,
			note: "Accepted: to SQLite an empty file is an empty database, which holds no runs."},
		{name: "a database from a newer evalpin", args: []string{"runs", "--db", newer}, exit: 2, names: newer},
		{name: "a database path that is a directory", args: runArgs("--db", f.dir), exit: 2, names: f.dir},
		{name: "a read-only database file", args: runArgs("--db", roFile, "--fresh"), exit: 2, names: roFile, nobody: true},
		{name: "a read-only database in a read-only directory", args: runArgs("--db", filepath.Join(roDir, "evalpin.db"), "--fresh"), exit: 2, names: roDir, nobody: true},
		{name: "a database path under a file", args: runArgs("--db", filepath.Join(text, "evalpin.db")), exit: 2, names: text},
		{name: "a database that does not exist, read", args: []string{"runs", "--db", filepath.Join(f.dir, "none.db")}, exit: 2, names: "none.db"},
		{name: "a database path with '?' and '#'", args: []string{"runs", "--db", filepath.Join(f.dir, "ci?mode=memory#1.db")}, exit: 2, names: "ci?mode=memory#1.db",
			note: "The path is a file name, not a URI: this one does not exist."},
	}
}

// baselineErrors are baseline files that are refused, and the one that is not.
func baselineErrors(t *testing.T, f errorFixtures) []errorCase {
	a := runQuiet(t)
	code, good, stderr := a.cmd(context.Background(), "baseline", "export", "1", "--db", f.db)
	if code != 0 {
		t.Fatalf("baseline export: exit %d\n%s", code, stderr)
	}
	reseal := func(edit func(lines []string) []string) string {
		return string(resealBaseline(t, []byte(good), edit))
	}
	output := reseal(func(l []string) []string {
		l[2] = strings.Replace(l[2], "echo: prompt case-000", "a better answer", 1)
		return l
	})
	// A baseline whose header carries its lock's manifest (the fake serves
	// none), and whose lock id is recomputed from it.
	manifestDB, _, _ := mustBaselineDB(t)
	code, withManifest, stderr := a.cmd(context.Background(), "baseline", "export", "1", "--db", manifestDB)
	if code != 0 {
		t.Fatalf("baseline export: exit %d\n%s", code, stderr)
	}
	fresh := func() string { return filepath.Join(f.dir, "fresh.db") }
	imp := func(name, data string) []string {
		return []string{"baseline", "import", f.file(t, name, data), "--db", fresh()}
	}
	return []errorCase{
		{name: "a baseline with CRLF line endings", args: imp("crlf.jsonl", strings.ReplaceAll(good, "\n", "\r\n")), exit: 2, names: "crlf.jsonl:1"},
		{name: "a baseline with a byte order mark", args: imp("bom.jsonl", "\ufeff"+good), exit: 2, names: "bom.jsonl:1"},
		{name: "a baseline edited by hand", args: imp("edited.jsonl", strings.Replace(good, "echo: prompt case-000", "a better answer", 1)), exit: 2, names: "edited.jsonl"},
		{name: "a baseline edited and resealed", args: imp("resealed.jsonl", output), exit: 0,
			note: "Accepted: the checksum is not a signature (see above). Its review in git protects a baseline."},
		{name: "a baseline's lock manifest edited and resealed", args: imp("resealed-lock.jsonl", string(resealBaseline(t, []byte(withManifest), func(l []string) []string {
			l[0] = strings.Replace(l[0], `"repo":"org/model"`, `"repo":"org/fork"`, 1)
			return l
		}))), exit: 2, names: "resealed-lock.jsonl"},
		{name: "a truncated baseline", args: imp("truncated.jsonl", good[:len(good)/2]), exit: 2, names: "truncated.jsonl"},
		{name: "an empty baseline", args: imp("empty.jsonl", ""), exit: 2, names: "empty.jsonl"},
		{name: "a suite given as a baseline", args: imp("suite.jsonl", "{\"suite\": {\"name\": \"x\", \"version\": \"1\"}}\n"), exit: 2, names: "suite.jsonl:1"},
		{name: "a baseline of a newer format", args: imp("version.jsonl", reseal(func(l []string) []string {
			l[0] = strings.Replace(l[0], `"version":2,`, `"version":9,`, 1)
			return l
		})), exit: 2, names: "version.jsonl:1"},
		{name: "a baseline file that does not exist", args: []string{"baseline", "import", filepath.Join(f.dir, "none.jsonl"), "--db", fresh()}, exit: 2, names: "none.jsonl"},
	}
}

// suiteErrors are malformed suite files, checked with "evalpin suite check".
func suiteErrors(t *testing.T, f errorFixtures) []errorCase {
	check := func(name, data string) []string { return []string{"suite", "check", f.file(t, name, data)} }
	head := "name: s\nversion: \"1\"\ncases:\n"
	return []errorCase{
		{name: "a suite that is not YAML", args: check("syntax.yaml", head+"  - id: a\n    prompt: [unclosed\n"), exit: 2, names: "syntax.yaml:4"},
		{name: "a suite line that is not JSON", args: check("bad.jsonl", "{\"suite\": {\"name\": \"s\", \"version\": \"1\"}}\n{\"id\": \"a\", \"prompt\": \"p\"\n"), exit: 2, names: "bad.jsonl:2"},
		{name: "a JSONL suite without its header", args: check("no-header.jsonl", "{\"id\": \"a\", \"prompt\": \"p\"}\n"), exit: 2, names: "no-header.jsonl:1"},
		{name: "a suite with two cases of one id", args: check("duplicate.yaml", head+"  - {id: a, prompt: p}\n  - {id: a, prompt: q}\n"), exit: 2, names: "duplicate.yaml:5"},
		{name: "an unknown scorer", args: check("scorer.yaml", head+"  - {id: a, prompt: p, scorers: [{kind: vibes}]}\n"), exit: 2, names: "scorer.yaml:4"},
		{name: "a regex that does not compile", args: check("regex.yaml", head+"  - {id: a, prompt: p, scorers: [{kind: regex, pattern: \"a(b\"}]}\n"), exit: 2, names: "regex.yaml:4"},
		{name: "an unknown field", args: check("field.yaml", head+"  - {id: a, promt: p}\n"), exit: 2, names: "field.yaml:4"},
		{name: "a suite without cases", args: check("empty.yaml", "name: s\nversion: \"1\"\n"), exit: 2, names: "empty.yaml"},
		{name: "a suite with CRLF line endings and a BOM", args: check("crlf.yaml", "\ufeff"+strings.ReplaceAll(head+"  - {id: a, prompt: p}\n", "\n", "\r\n")), exit: 0,
			note: "Accepted: a suite is text for people to edit."},
		{name: "a suite file of another extension", args: check("suite.txt", head), exit: 2, names: "suite.txt"},
		{name: "a suite file that does not exist", args: []string{"suite", "check", filepath.Join(f.dir, "none.yaml")}, exit: 2, names: "none.yaml"},
	}
}

// policyErrors are malformed policy files given to diff.
func policyErrors(t *testing.T, f errorFixtures) []errorCase {
	diff := func(name, data string) []string {
		return []string{"diff", "--baseline", "1", "--candidate", "1", "--db", f.db, "--policy", f.file(t, name, data)}
	}
	return []errorCase{
		{name: "a policy that is not YAML", args: diff("syntax.policy.yaml", "alpha: [\n"), exit: 2, names: "syntax.policy.yaml"},
		{name: "a policy field misspelt", args: diff("field.policy.yaml", "alpha: 0.05\npass_rate:\n  min_efect: 0.02\n"), exit: 2, names: "line 3"},
		{name: "a policy value out of range", args: diff("alpha.policy.yaml", "alpha: 2\n"), exit: 2, names: "line 1: alpha"},
		{name: "a policy count that is not whole", args: diff("paired.policy.yaml", "min_paired: 2.5\n"), exit: 2, names: "line 1: min_paired"},
		{name: "a policy name left null", args: diff("null.policy.yaml", "scorers:\n  ~: {min_effect: 0.1}\n"), exit: 2, names: "line 2"},
		{name: "a policy file that does not exist", args: []string{"diff", "--baseline", "1", "--candidate", "1", "--db", f.db, "--policy", filepath.Join(f.dir, "none.yaml")}, exit: 2, names: "none.yaml"},
	}
}

// lockErrors are malformed lock files.
func lockErrors(t *testing.T, f errorFixtures) []errorCase {
	m := &lock.Manifest{Version: lock.Version, Files: []lock.File{{Path: "model.gguf", Size: 3, SHA256: strings.Repeat("a", 64), Role: lock.RoleWeights}}, Generation: map[string]any{}}
	if err := m.Seal(); err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	good, version := string(data), fmt.Sprintf(`"version": %d`, lock.Version)
	if !strings.Contains(good, version) {
		t.Fatalf("the lock file has no %s:\n%s", version, good)
	}
	show := func(name, data string) []string { return []string{"lock", "show", f.file(t, name, data)} }
	return []errorCase{
		{name: "a lock file that is not JSON", args: show("yaml.lock", "lock: sha256:abc\n"), exit: 2, names: "yaml.lock"},
		{name: "an empty lock file", args: show("empty.lock", ""), exit: 2, names: "empty.lock"},
		{name: "a lock file edited by hand", args: show("edited.lock", strings.Replace(good, `"size": 3`, `"size": 4`, 1)), exit: 2, names: "edited.lock"},
		{name: "a lock file of an unknown version", args: show("version.lock", strings.Replace(good, version, fmt.Sprintf(`"version": %d`, lock.Version+1), 1)), exit: 2, names: "version.lock"},
		{name: "a lock file with an unknown field", args: show("field.lock", strings.Replace(good, version, version+`, "weights": "x"`, 1)), exit: 2, names: "field.lock"},
		{name: "a lock file that does not exist", args: []string{"lock", "verify", f.dir, filepath.Join(f.dir, "none.lock")}, exit: 2, names: "none.lock"},
	}
}

// projectErrors are malformed project files and settings, and inputs of
// the other commands.
func projectErrors(t *testing.T, f errorFixtures) []errorCase {
	project := func(name, data string) map[string]string {
		return map[string]string{"EVALPIN_PROJECT": f.file(t, name, data)}
	}
	runs := []string{"runs", "--db", f.db}
	crlf := filepath.Join(f.dir, "crlf.jsonl") // written by baselineErrors
	return []errorCase{
		{name: "a project file that is not YAML", args: runs, env: project("syntax.evalpin.yaml", "suite: [\n"), exit: 2, names: "syntax.evalpin.yaml"},
		{name: "a project file with an unknown setting", args: runs, env: project("field.evalpin.yaml", "suite: smoke\nsampels: 3\n"), exit: 2, names: "sampels"},
		{name: "a project setting of the wrong type", args: []string{"run", "--db", f.db}, env: project("type.evalpin.yaml", "samples: many\n"), exit: 2, names: "type.evalpin.yaml: line 1"},
		{name: "a project file that does not exist", args: runs, env: map[string]string{"EVALPIN_PROJECT": filepath.Join(f.dir, "none.yaml")}, exit: 2, names: "none.yaml"},
		{name: "a setting's variable with a bad value", args: []string{"run", "--suite", "testbed", "--endpoint", f.url, "--db", f.db}, env: map[string]string{"EVALPIN_SAMPLES": "0"}, exit: 2, names: "EVALPIN_SAMPLES"},
		{name: "a setting's variable that is not a number", args: []string{"run", "--suite", "testbed", "--endpoint", f.url, "--db", f.db}, env: map[string]string{"EVALPIN_SAMPLES": "three"}, exit: 2, names: "EVALPIN_SAMPLES"},
		{name: "a project setting out of range", args: []string{"run", "--endpoint", f.url, "--db", f.db}, env: project("range.evalpin.yaml", "suite: testbed\nsamples: 0\n"), exit: 2, names: "range.evalpin.yaml"},
		{name: "a CRLF baseline file given to diff", args: []string{"diff", "--baseline", crlf, "--candidate", "1", "--db", f.db}, exit: 2, names: "crlf.jsonl:1"},
		{name: "a model directory that does not exist", args: []string{"lock", "create", filepath.Join(f.dir, "no-model"), "-o", filepath.Join(f.dir, "x.lock")}, exit: 2, names: "no-model"},
		{name: "lock diff with one file", args: []string{"lock", "diff", filepath.Join(f.dir, "edited.lock")}, exit: 2, names: "lock diff"},
		{name: "promote a lock id that is not one", args: []string{"promote", "sha256:xyz", "--db", f.db}, exit: 2, names: "sha256:xyz"},
	}
}
