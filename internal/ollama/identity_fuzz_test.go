package ollama

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/lockid"
)

// FuzzParseIdentity checks that ParseIdentity never panics, that it accepts
// any document encoding/json reads as an identity of evalpin's scheme under
// the lock of what it says, and that what it accepts round-trips: the
// identity's Canonical document parses back under the same lock to the
// same canonical document.
func FuzzParseIdentity(f *testing.F) {
	o := baseIdentity()
	o.Messages = []string{"user: hi"}
	o.Adapters = []string{"sha256:" + strings.Repeat("3", 64)}
	f.Add(o.Canonical())
	f.Add(Identity{Template: "a\xffb <>&\u2028"}.Canonical())
	f.Add([]byte(`{"scheme":"evalpin-ollama-lock/1","template":"\ud800"}`))
	f.Add([]byte(`{"scheme":"evalpin-ollama-lock/1"} {}`))
	fixed := lockid.ID(lockid.OllamaPrefix + strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, doc []byte) {
		_, _ = ParseIdentity(fixed, doc) // never panics
		var d identityDoc
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.DisallowUnknownFields()
		if dec.Decode(&d) != nil || d.Scheme != scheme || dec.More() {
			return
		}
		if _, err := dec.Token(); err != io.EOF {
			return // data after the object
		}
		want := Identity{EngineVersion: d.EngineVersion, Models: d.Models, Adapters: d.Adapters,
			Template: d.Template, System: d.System, Parameters: d.Parameters, Messages: d.Messages,
			Renderer: d.Renderer, Parser: d.Parser}
		got, err := ParseIdentity(want.Lock(), doc)
		if err != nil {
			t.Fatalf("refused under its own lock: %v", err)
		}
		again, err := ParseIdentity(got.Lock(), got.Canonical())
		if err != nil {
			t.Fatalf("its canonical document refused: %v", err)
		}
		if !bytes.Equal(again.Canonical(), got.Canonical()) {
			t.Fatalf("the round trip changed it:\n%s\n%s", got.Canonical(), again.Canonical())
		}
	})
}
