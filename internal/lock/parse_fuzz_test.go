package lock

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/fault"
)

// FuzzParse checks that Parse never panics and refuses every input it does
// not accept with an input error, and that what it accepts round-trips:
// Marshal of the parsed manifest parses to the same manifest and lock. So
// that the fuzzer reaches past the seal, each input is also resealed (its
// lock recomputed, as a hand edit followed by 'lock create' would) and the
// resealed file must be accepted whenever its content is well formed.
func FuzzParse(f *testing.F) {
	m := vectorManifest()
	if err := m.Seal(); err != nil {
		f.Fatal(err)
	}
	good, err := m.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(strings.Replace(string(good), `"dtype": "bfloat16"`, `"dtype": "float16"`, 1)))
	f.Add([]byte(`{"version":1,"lock":"sha256:00","files":[]}`))
	f.Add([]byte("[1]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		switch p, err := Parse(data); {
		case err == nil:
			roundTrip(t, p)
		case fault.KindOf(err) != fault.Input || fault.HintOf(err) == "":
			t.Fatalf("refused without an input error and its hint: %v", err)
		}
		var m Manifest
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if dec.Decode(&m) != nil || m.Version != Version || dec.More() {
			return
		}
		id, err := m.ID()
		if err != nil {
			return
		}
		sameCanonical(t, &m)
		m.Lock = id
		resealed, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a decoded manifest: %v", err)
		}
		p, err := Parse(resealed)
		if err != nil {
			t.Fatalf("Parse of a resealed manifest: %v\n%s", err, resealed)
		}
		roundTrip(t, p)
	})
}

// roundTrip checks that p, marshalled and parsed again, is p.
func roundTrip(t *testing.T, p *Manifest) {
	t.Helper()
	data, err := p.Marshal()
	if err != nil {
		t.Fatalf("Marshal of a parsed manifest: %v", err)
	}
	q, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(Marshal(Parse(data))): %v\n%s", err, data)
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("the round trip changed the manifest:\n%+v\n%+v", p, q)
	}
}
