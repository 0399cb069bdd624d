// Package suites reads evalpin suite files into eval.Suite values: YAML for
// suites written by hand, JSON lines for large generated ones. It validates a
// suite completely at load time, reporting every problem with its file, line
// and column and what to fix, and computes the content hashes runs are paired
// on. The bundled example suites are in Examples.
//
// docs/suites.md describes the format.
package suites

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/eval/score"
	"github.com/evalpin/evalpin/internal/fault"
	"go.yaml.in/yaml/v3"
)

// MaxProblems is how many problems an InvalidError lists; it counts the rest.
const MaxProblems = 50

// formatHint is the hint of every error about a suite's content.
const formatHint = "fix the problems listed; docs/suites.md describes the suite format, and 'evalpin suite show testbed' prints an example"

// A Problem is one thing wrong with a suite file.
type Problem struct {
	File string
	Line int // 1-based; 0 when the problem is about the whole file
	Col  int // 1-based; 0 when unknown
	Msg  string
}

// String formats p as "file:line:col: message", leaving out what is unknown.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	b.WriteString(": ")
	b.WriteString(p.Msg)
	return b.String()
}

// An InvalidError lists the problems of a suite file that cannot be loaded,
// in file order.
type InvalidError struct {
	File     string
	Problems []Problem // at most MaxProblems
	More     int       // how many more problems there are
}

// Error lists the problems, one a line.
func (e *InvalidError) Error() string {
	var b strings.Builder
	n := len(e.Problems) + e.More
	fmt.Fprintf(&b, "invalid suite %s: %d problem", e.File, n)
	if n != 1 {
		b.WriteByte('s')
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n  … and %d more", e.More)
	}
	return b.String()
}

// Load reads the suite file at path; its extension (.yaml, .yml or .jsonl)
// decides the format. The error of an invalid suite is an *fault.Error of
// kind fault.Input wrapping an *InvalidError.
func Load(path string) (*eval.Suite, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fault.Errorf(fault.Input, "check the suite's path", "read suite: %w", err)
	}
	return Parse(path, data)
}

// LoadFS reads the suite file name from fsys, as Load does.
func LoadFS(fsys fs.FS, name string) (*eval.Suite, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fault.Errorf(fault.Input, "check the suite's name", "read suite: %w", err)
	}
	return Parse(name, data)
}

// Parse parses data as the suite file name, whose extension decides the
// format; name also labels the problems.
func Parse(name string, data []byte) (*eval.Suite, error) {
	var (
		s   *eval.Suite
		ps  []Problem
		ext = strings.ToLower(filepath.Ext(name))
	)
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	switch ext {
	case ".yaml", ".yml":
		s, ps = parseYAML(name, data)
	case ".jsonl":
		s, ps = parseJSONL(name, data)
	default:
		return nil, fault.Errorf(fault.Input, "name suite files *.yaml, *.yml or *.jsonl",
			"suite %s: unknown format %q", name, ext)
	}
	if len(ps) > 0 {
		slices.SortStableFunc(ps, func(a, b Problem) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
		})
		ie := &InvalidError{File: name, Problems: ps}
		if len(ps) > MaxProblems {
			ie.Problems, ie.More = ps[:MaxProblems], len(ps)-MaxProblems
		}
		return nil, fault.Errorf(fault.Input, formatHint, "%w", ie)
	}
	return s, nil
}

// yamlLine finds the line number in a go-yaml error message.
var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// parseYAML parses a YAML suite.
func parseYAML(file string, data []byte) (*eval.Suite, []Problem) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := err.Error()
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = msg[len(m[0]):]
		}
		return nil, []Problem{{File: file, Line: line, Msg: "YAML syntax: " + msg}}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, []Problem{{File: file, Msg: "empty suite; a suite needs a name and cases (see docs/suites.md)"}}
	}
	d := &decoder{top: "the suite"}
	var h rawHeader
	d.decode(&root, reflect.ValueOf(&h).Elem(), nil)
	out := func(fps []fieldProblem, n *yaml.Node, prefix path) []Problem {
		var ps []Problem
		for _, fp := range fps {
			at := fp.at
			if at == nil {
				pl := resolve(n, append(slices.Clone(prefix), fp.path...))
				at = &pl
			}
			ps = append(ps, Problem{File: file, Line: at.Line, Col: at.Col, Msg: fp.msg})
		}
		return ps
	}
	var hps problems
	suite := buildHeader(&h, &hps)
	if root.Content[0].Kind == yaml.MappingNode && h.Cases == nil && !hasProblemAt(d.problems, path{"cases"}) {
		hps.missing(nil, []string{"cases"}, "suite has no cases; add cases: with at least one case")
	} else if h.Cases != nil && len(h.Cases) == 0 {
		hps.add(path{"cases"}, "cases is empty; add at least one case")
	}
	ps := out(filterMissing(hps, d.problems, nil), &root, nil)
	ids := map[string]place{}
	hs := newHasher(suite.Settings)
	for i := range h.Cases {
		p := path{"cases", i}
		c, cps := buildCase(&h.Cases[i], hs)
		ps = append(ps, out(filterMissing(cps, d.problems, p), &root, p)...)
		if c.ID != "" {
			at := resolve(&root, path{"cases", i, "id"})
			if first, dup := ids[c.ID]; dup {
				ps = append(ps, Problem{File: file, Line: at.Line, Col: at.Col,
					Msg: fmt.Sprintf("duplicate case id %q, first used on line %d; give each case its own id", c.ID, first.Line)})
			} else {
				ids[c.ID] = at
			}
		}
		suite.Cases = append(suite.Cases, c)
	}
	ps = append(ps, out(d.problems, &root, nil)...)
	if len(ps) > 0 {
		return nil, ps
	}
	suite.Hash = suiteHash(suite.Settings, suite.Cases)
	return suite, nil
}

// buildHeader makes a suite without cases from its header.
func buildHeader(h *rawHeader, ps *problems) *eval.Suite {
	s := &eval.Suite{}
	switch {
	case h.Name == nil:
		ps.missing(nil, []string{"name"}, `suite has no name; add name: my-suite`)
	case strings.TrimSpace(*h.Name) == "":
		ps.add(path{"name"}, "name is empty; name the suite")
	default:
		s.Name = *h.Name
	}
	switch v := h.Version.(type) {
	case nil:
	case string:
		s.Version = v
	case json.Number:
		s.Version = string(v)
	default:
		ps.add(path{"version"}, "version must be a string or number, got %s", score.DescribeValue(v))
	}
	s.Settings = buildSettings(h.Defaults, ps)
	return s
}

// hasProblemAt reports whether a decoding problem is at p or within it.
func hasProblemAt(fps []fieldProblem, p path) bool {
	for _, fp := range fps {
		if len(fp.path) >= len(p) && slices.Equal(fp.path[:len(p)], p) {
			return true
		}
	}
	return false
}

// filterMissing drops the problems of ps (relative to prefix) that report a
// field as missing where decoding already reported a problem with it.
func filterMissing(ps problems, decoded []fieldProblem, prefix path) []fieldProblem {
	var out []fieldProblem
	for _, p := range ps {
		dup := false
		for _, f := range p.missing {
			full := append(append(slices.Clone(prefix), p.path...), f)
			if hasProblemAt(decoded, full) {
				dup = true
			}
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// jsonlHeader is the first line of a JSONL suite.
type jsonlHeader struct {
	Suite *rawHeader `json:"suite"`
}

// A jsonlCase is where one case line of a JSONL suite is and what is wrong
// with it; the case itself goes straight into the suite's cases.
type jsonlCase struct {
	line     int
	col      int // of the id
	problems []Problem
}

// A rawLine is a non-blank line of a JSONL suite.
type rawLine struct {
	no    int    // 1-based
	start int    // the offset of its first byte in the file
	text  []byte // without its line ending
}

// parseJSONL parses a JSON lines suite: a header line {"suite": {...}}, then
// one case a line. Blank lines are skipped. Case lines are parsed in parallel,
// in chunks of consecutive lines.
func parseJSONL(file string, data []byte) (*eval.Suite, []Problem) {
	lines := splitLines(data)
	if len(lines) == 0 {
		return nil, []Problem{{File: file, Msg: `empty suite; a JSONL suite is a header line {"suite": {"name": ...}} and one case a line`}}
	}

	first := lines[0]
	suite, ps, header := parseHeaderLine(file, first)
	if header {
		lines = lines[1:]
	}
	if len(lines) == 0 {
		ps = append(ps, Problem{File: file, Line: first.no, Msg: "suite has no cases; add one case a line after the header"})
	}

	results := make([]jsonlCase, len(lines))
	suite.Cases = make([]eval.Case, len(lines))
	const chunk = 256
	workers := min(runtime.GOMAXPROCS(0), max(1, len(lines)/chunk))
	var (
		wg   sync.WaitGroup
		next atomic.Int64 // the first line of the next chunk
	)
	for range workers {
		wg.Go(func() {
			lp := &lineParser{hs: newHasher(suite.Settings)}
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(lines) {
					return
				}
				hi := min(lo+chunk, len(lines))
				parseCaseLines(file, lines[lo:hi], lp, results[lo:hi], suite.Cases[lo:hi])
			}
		})
	}
	wg.Wait()

	ids := make(map[string]int, len(results))
	for i, r := range results {
		ps = append(ps, r.problems...)
		if id := suite.Cases[i].ID; id != "" {
			if firstLine, dup := ids[id]; dup {
				ps = append(ps, Problem{File: file, Line: r.line, Col: r.col,
					Msg: fmt.Sprintf("duplicate case id %q, first used on line %d; give each case its own id", id, firstLine)})
			} else {
				ids[id] = r.line
			}
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	suite.Hash = suiteHash(suite.Settings, suite.Cases)
	return suite, nil
}

// splitLines returns the non-blank lines of data.
func splitLines(data []byte) []rawLine {
	lines := make([]rawLine, 0, bytes.Count(data, []byte("\n"))+1)
	for no, rest := 1, data; len(rest) > 0; no++ {
		start := len(data) - len(rest)
		text := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			text, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		text = bytes.TrimSuffix(text, []byte("\r"))
		if len(bytes.TrimSpace(text)) > 0 {
			lines = append(lines, rawLine{no, start, text})
		}
	}
	return lines
}

// parseCaseLines parses consecutive case lines into results and cases, each
// line alone.
func parseCaseLines(file string, lines []rawLine, lp *lineParser, results []jsonlCase, cases []eval.Case) {
	for i, l := range lines {
		results[i] = parseCaseLine(file, l.no, l.text, lp, &cases[i])
	}
}

// A lineParser is what parses case lines on one goroutine: the hasher of
// their cases (none: not hashed) and a decoder reused from line to line.
type lineParser struct {
	hs  *hasher
	dec strictDecoder
}

// parseCaseLine parses one case line into c, hashed by lp's hasher (not
// when nil). It decodes the line with encoding/json; only a line with a
// problem is parsed again as YAML (JSON is YAML) to say where the problem is.
func parseCaseLine(file string, no int, text []byte, lp *lineParser, c *eval.Case) jsonlCase {
	var fps []fieldProblem
	var node *yaml.Node
	rc := new(rawCase)
	if err := lp.dec.decode(text, rc); err != nil {
		*rc = rawCase{}
		fps, node = decodeLine(text, rc, "the case")
		if node == nil { // not a JSON object: nothing more to say
			return jsonlCase{line: no, col: 1, problems: lineProblems(file, no, text, nil, fps)}
		}
	}
	var cps problems
	*c, cps = buildCase(rc, lp.hs)
	r := jsonlCase{line: no, col: 1}
	all := append(fps, filterMissing(cps, fps, nil)...)
	if len(all) > 0 || c.ID != "" {
		if node == nil && len(all) > 0 {
			node = parseYAMLLine(text)
		}
		r.problems = lineProblems(file, no, text, node, all)
		if node != nil {
			r.col = resolve(node, path{"id"}).Col
		} else if i := bytes.Index(text, []byte(`"id"`)); i >= 0 {
			r.col = i + 1
		}
	}
	return r
}

// decodeJSONStrict decodes one JSON value from text into v, refusing unknown
// fields and trailing data.
func decodeJSONStrict(text []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// A strictDecoder decodes one JSON value a line as decodeJSONStrict does,
// with one json.Decoder reused from line to line rather than one a line; a
// decoder that failed on a line is dropped, and the next line gets a new
// one. Not for concurrent use.
type strictDecoder struct {
	dec  *json.Decoder // reads from line
	line []byte        // what is left of the line being decoded
}

// Read gives the decoder what is left of the line, then io.EOF.
func (d *strictDecoder) Read(p []byte) (int, error) {
	if len(d.line) == 0 {
		return 0, io.EOF
	}
	n := copy(p, d.line)
	d.line = d.line[n:]
	return n, nil
}

// decode decodes one JSON value from text into v, refusing unknown fields
// and trailing data.
func (d *strictDecoder) decode(text []byte, v any) error {
	if d.dec == nil {
		d.dec = json.NewDecoder(d)
		d.dec.UseNumber()
		d.dec.DisallowUnknownFields()
	}
	d.line = text
	err := d.dec.Decode(v)
	if err == nil {
		if _, err = d.dec.Token(); err == io.EOF {
			return nil
		}
		err = errors.New("data after the JSON object")
	}
	d.dec, d.line = nil, nil
	return err
}

// decodeLine decodes a JSON line into v through the checking YAML decoder,
// and returns its problems and its node (nil when it is not even YAML, and
// then one problem says why it is not JSON).
func decodeLine(text []byte, v any, top string) ([]fieldProblem, *yaml.Node) {
	if err := decodeJSONStrict(text, v); err == nil {
		return nil, nil
	}
	reflect.ValueOf(v).Elem().SetZero()
	node := parseYAMLLine(text)
	if node == nil || len(node.Content) == 0 || !bytes.HasPrefix(bytes.TrimSpace(text), []byte("{")) {
		return []fieldProblem{jsonSyntaxProblem(text)}, nil
	}
	d := &decoder{top: top}
	d.decode(node, reflect.ValueOf(v).Elem(), nil)
	if len(d.problems) == 0 {
		// YAML accepted what JSON did not (a YAML-only construct).
		return []fieldProblem{jsonSyntaxProblem(text)}, nil
	}
	return d.problems, node
}

// parseYAMLLine parses a JSON line as YAML, or returns nil.
func parseYAMLLine(text []byte) *yaml.Node {
	var n yaml.Node
	if err := yaml.Unmarshal(text, &n); err != nil || n.Kind == 0 {
		return nil
	}
	return &n
}

// jsonSyntaxProblem says why text is not one JSON object, and where.
func jsonSyntaxProblem(text []byte) fieldProblem {
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(text))
	err := dec.Decode(&v)
	col := 1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		col = int(se.Offset)
	case errors.As(err, &te):
		return fieldProblem{msg: "a line must be one JSON object, got " + te.Value, at: &place{Col: 1}}
	case err == nil:
		if _, terr := dec.Token(); terr != io.EOF {
			col = int(dec.InputOffset()) + 1
			err = errors.New("data after the JSON object; write one object a line")
		} else {
			err = errors.New("not valid JSON")
		}
	}
	msg := strings.TrimPrefix(fmt.Sprint(err), "json: ")
	return fieldProblem{msg: "invalid JSON: " + msg, at: &place{Col: max(col, 1)}}
}

// lineProblems places the problems of one JSONL line.
func lineProblems(file string, no int, text []byte, node *yaml.Node, fps []fieldProblem) []Problem {
	var ps []Problem
	for _, fp := range fps {
		col := 1
		switch {
		case fp.at != nil:
			col = fp.at.Col
		case node != nil:
			col = resolve(node, fp.path).Col
		}
		ps = append(ps, Problem{File: file, Line: no, Col: col, Msg: fp.msg})
	}
	return ps
}
