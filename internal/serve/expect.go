package serve

import (
	"errors"
	"fmt"
	"strings"

	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/ollama"
	"github.com/evalpin/evalpin/internal/untrusted"
)

// ExpectOllama reads what the lock m says an Ollama engine must report for
// the model it serves from the model directory dir, for Config.Ollama: the
// locked Modelfile in dir, the hashes of the files its FROM and ADAPTER
// lines name (from the manifest), and the serving layer's engine version.
// It says why when the lock says nothing Ollama can be held against: its
// serving engine is another, it has no Modelfile, a FROM or ADAPTER names no
// locked file, or the Modelfile has no FROM or no TEMPLATE. Verify dir
// against m first: the Modelfile must still have its locked hash.
func ExpectOllama(dir string, m *lock.Manifest) (*OllamaExpect, error) {
	if e := m.Serving.Engine; e != "" && !strings.EqualFold(e, EngineOllama) {
		return nil, fmt.Errorf("the lock's serving engine is %q, not ollama", e)
	}
	mf, err := lock.ReadModelfile(dir, m)
	if errors.Is(err, lock.ErrNoModelfile) {
		return nil, errors.New("the lock has no Ollama Modelfile, so it does not say which weights, template and parameters Ollama must serve")
	}
	if err != nil {
		return nil, fmt.Errorf("the locked Modelfile: %w", err)
	}
	return expectModelfile(mf, m.Serving.EngineVersion)
}

// expectModelfile returns what the locked Modelfile mf says Ollama must
// report, with the lock's engine version.
func expectModelfile(mf *lock.Modelfile, engineVersion string) (*OllamaExpect, error) {
	name := untrusted.Clip(mf.Path, 300)
	want := &OllamaExpect{Modelfile: name, EngineVersion: engineVersion}
	for _, refs := range []struct {
		verb string
		refs []lock.ModelfileRef
		out  *[]string
	}{{"FROM", mf.From, &want.Models}, {"ADAPTER", mf.Adapters, &want.Adapters}} {
		for _, r := range refs.refs {
			if r.Path == "" {
				return nil, fmt.Errorf("%s %s in %s names no file of the lock (a model in a registry, or a directory that Ollama converts into a new blob), so Ollama's blobs cannot be held against the lock",
					refs.verb, untrusted.Clip(r.Arg, 300), name)
			}
			*refs.out = append(*refs.out, "sha256:"+r.SHA256)
		}
	}
	if len(want.Models) == 0 {
		return nil, fmt.Errorf("%s has no FROM line", name)
	}
	if mf.Template == nil {
		return nil, fmt.Errorf("%s has no TEMPLATE, so the lock does not say which chat template Ollama serves (Ollama takes one from the weights' metadata or its own default)", name)
	}
	want.Template, want.System, want.Renderer, want.Parser = *mf.Template, deref(mf.System), deref(mf.Renderer), deref(mf.Parser)
	for _, p := range mf.Parameters {
		want.Parameters = append(want.Parameters, ollama.Parameter{Name: p.Name, Value: p.Value})
	}
	for _, msg := range mf.Messages {
		want.Messages = append(want.Messages, msg.Role+": "+msg.Content)
	}
	return want, nil
}

// deref returns *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
