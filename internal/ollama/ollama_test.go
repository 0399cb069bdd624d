package ollama

import "testing"

func TestName(t *testing.T) {
	same := []string{"tiny", "tiny:latest", "library/tiny", "library/tiny:latest", "registry.ollama.ai/library/tiny:latest",
		"TINY", "Tiny:Latest", "https://registry.ollama.ai/library/tiny"}
	for _, n := range same {
		if got := Name(n); got != "registry.ollama.ai/library/tiny:latest" {
			t.Errorf("Name(%q) = %q", n, got)
		}
	}
	for _, tt := range []struct{ a, b string }{
		{"tiny", "tiny:q4"}, {"tiny", "other"}, {"tiny", "me/tiny"}, {"tiny", "example.com/library/tiny"}, {"tiny", ""}, {"", ""},
	} {
		if SameModel(tt.a, tt.b) {
			t.Errorf("SameModel(%q, %q) = true", tt.a, tt.b)
		}
	}
	if got := Name("localhost:5000/me/tiny"); got != "localhost:5000/me/tiny:latest" {
		t.Errorf("a host with a port: %q", got)
	}
}

func TestSameValue(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"0.7", "0.70", true}, {"0.1", "0.1", true}, {"1", "1.0", true}, {"4096", "4096", true},
		{"true", "True", true}, {"0.7", "0.8", false}, {"<|end|>", "<|End|>", false}, {"1", "true", true},
		{"0.30000001", "0.3", true}, // one float32
		{"", "0", false},
	} {
		if got := SameValue(tt.a, tt.b); got != tt.same {
			t.Errorf("SameValue(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
	got := ParseParameters("stop                           \"a b\"\nnum_ctx                        4096\nstop \"\\\"q\\\"\"")
	want := []Parameter{{Name: "num_ctx", Value: "4096"}, {Name: "stop", Value: "a b"}, {Name: "stop", Value: `"q"`}}
	if len(got) != len(want) {
		t.Fatalf("ParseParameters = %v", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("ParseParameters = %v, want %v", got, want)
		}
	}
}
