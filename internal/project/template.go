package project

import (
	"fmt"
	"strconv"
	"strings"
)

// A setting's line in the template: its comment, and an example written
// (commented out) where the file leaves it unset.
var templateLines = []struct{ name, comment, example string }{
	{"endpoints", "The OpenAI base URLs of the replicas serving the model (OPENAI_BASE_URL is used where none is set).", "[http://127.0.0.1:8000/v1]"},
	{"model", "The model's name as the endpoints serve it (default: the only one they serve).", "my-model"},
	{"suite", "The suite: a file (relative to this file) or a bundled suite ('evalpin suite list').", "suites/smoke.yaml"},
	{"samples", "How many times each case is requested (default: the suite's).", "1"},
	{"policy", "The gate's policy file (default: the built-in policy, docs/diff.md).", "policy.yaml"},
	{"db", "The database evalpin keeps its history in.", ".evalpin/history.db"},
	{"track", "The line of locks the model's upgrades form ('evalpin promote').", "main"},
	{"lineage", "The file that keeps the tracks' promotions, kept in git beside the baselines.", "baselines/lineage.jsonl"},
	{"baseline", "The baseline file the gate compares with, kept in git ('evalpin baseline export').", "baselines/smoke.jsonl"},
	{"reports", "The gate's report files, each in the format of its extension (.md, .json, .xml JUnit, .html, .txt).", "[reports/gate.md, reports/junit.xml]"},
	{"api_key_env", "The environment variable holding the API key to send to every endpoint.", "MY_API_KEY"},
}

// Template returns a project file holding f's settings, each with a comment
// that says what it is; the settings f leaves unset are written commented
// out, with an example.
func Template(f *File) []byte {
	var b strings.Builder
	b.WriteString("# evalpin.yaml: this project's defaults for every evalpin command (docs/project.md).\n")
	b.WriteString("# A flag wins over EVALPIN_<SETTING>, which wins over this file.\n")
	for _, l := range templateLines {
		fmt.Fprintf(&b, "\n# %s\n", l.comment)
		vals, ok := f.Lookup(flagOf(l.name))
		switch {
		case !ok:
			fmt.Fprintf(&b, "# %s: %s\n", l.name, l.example)
		case l.name == "endpoints" || l.name == "reports":
			quoted := make([]string, len(vals))
			for i, v := range vals {
				quoted[i] = strconv.Quote(v)
			}
			fmt.Fprintf(&b, "%s: [%s]\n", l.name, strings.Join(quoted, ", "))
		case l.name == "samples":
			fmt.Fprintf(&b, "%s: %s\n", l.name, vals[0])
		default:
			fmt.Fprintf(&b, "%s: %s\n", l.name, strconv.Quote(vals[0]))
		}
	}
	return []byte(b.String())
}

// flagOf returns the flag of the setting name (Setting's inverse).
func flagOf(name string) string {
	switch name {
	case "endpoints":
		return "endpoint"
	case "reports":
		return "o"
	}
	return strings.ReplaceAll(name, "_", "-")
}
