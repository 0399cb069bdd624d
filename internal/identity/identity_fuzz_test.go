package identity

import (
	"testing"

	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
)

// FuzzParse checks that Parse never panics and agrees with the parsers of
// the two kinds it dispatches to: it accepts doc under id exactly when
// lock.Parse accepts doc as the manifest of id, or ollama.ParseIdentity
// accepts it as the identity of id. The id is one of the seeds' locks, or
// either kind's prefix before a fixed hash.
func FuzzParse(f *testing.F) {
	seeds := []doc{manifestDoc(f, "a"), ollamaDoc("{{ .Prompt }}", "0")}
	ids := []lockid.ID{seeds[0].id, seeds[1].id,
		lockid.ID(lockid.OllamaPrefix + string(seeds[0].id[len(lockid.ManifestPrefix):])),
		lockid.ID(string(seeds[1].id[len(lockid.OllamaPrefix):])),
		"", "sha256:00", "other:sha256:00"}
	for _, s := range seeds {
		for i := range ids {
			f.Add(uint8(i), s.doc)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		id := ids[int(which)%len(ids)]
		d, err := Parse(id, data)
		var want bool
		switch id.Kind() {
		case lockid.Manifest:
			m, err := lock.Parse(data)
			want = err == nil && m.Lock == id
		case lockid.Ollama:
			_, err := ollama.ParseIdentity(id, data)
			want = err == nil
		}
		if got := err == nil; got != want {
			t.Fatalf("Parse(%s) accepted %v, its kind's parser %v (%v)", id, got, want, err)
		}
		if err == nil && d.ID() != id {
			t.Fatalf("Parse(%s).ID() = %s", id, d.ID())
		}
	})
}
