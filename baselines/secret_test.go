package baselines

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/evalpin/evalpin/internal/secret"
)

// A baseline file is meant for git: no registered secret reaches it, whether
// a server echoed it in an output (valid UTF-8 or not), an error, a check's
// detail or the lock document, and the file still decodes with its checksum.
func TestEncodeRedactsSecrets(t *testing.T) {
	const key = "sk-baseline-test-7c2e90"
	secret.Register(key)
	b := sampleBaseline()
	b.Results[0].Output = "Your key is " + key
	b.Results[1].Output = "not UTF-8 \xff then " + key
	b.Results[2].Error = "HTTP 401: Incorrect API key provided: " + key
	b.Results[3].Checks[0].Detail = `output "` + key + `" lacks "x"`
	b.Header.LockManifest = []byte(`{"version": 1, "note": "` + key + `"}`)

	data := encode(t, b)
	for _, s := range []string{key, base64.StdEncoding.EncodeToString([]byte(key))[:16]} {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("the file holds %q:\n%s", s, data)
		}
	}
	out, err := Decode(bytes.NewReader(data), "b.jsonl")
	if err != nil {
		t.Fatalf("the redacted file does not decode: %v", err)
	}
	if got := out.Results[1].Output; got != "not UTF-8 \xff then "+secret.Marker {
		t.Errorf("output %q", got)
	}
	if got := string(out.Header.LockManifest); !strings.Contains(got, secret.Marker) {
		t.Errorf("manifest %s", got)
	}
	d1, err := b.Digest()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := out.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 {
		t.Errorf("the digest of the baseline (%s) differs from that of the file (%s)", d1, d2)
	}
}
