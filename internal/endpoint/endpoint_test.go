package endpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evalpin/evalpin/internal/fault"
	"github.com/evalpin/evalpin/internal/lock"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/ollama"
)

// Lock ids of the tests: any lock-shaped values will do.
// The locks of the fakes: untyped, so that they serve as lock ids and as the
// strings a fake answers.
const (
	lockA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	lockB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// sealedManifest returns a well-formed lock file and its id.
func sealedManifest(t testing.TB, weights string) ([]byte, lockid.ID) {
	t.Helper()
	m := &lock.Manifest{
		Version: lock.Version,
		Files: []lock.File{
			{Path: "model.gguf", Size: 3, SHA256: strings.Repeat(weights, 64), Role: lock.RoleWeights},
		},
		Serving:    lock.Serving{Engine: "ollama"},
		Generation: map[string]any{},
	}
	if err := m.Seal(); err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data, m.Lock
}

func wellKnownDoc(id lockid.ID, manifest []byte) string {
	if manifest == nil {
		return fmt.Sprintf(`{"lock":%q}`, id)
	}
	return fmt.Sprintf(`{"lock":%q,"manifest":%s}`, id, manifest)
}

const ollamaDigest = "1111111111111111111111111111111111111111111111111111111111111111"

func ollamaFake(modelsDir, template string) *fakeOllama {
	return &fakeOllama{version: "0.17.4", show: ollamaShowFixture(modelsDir, ollamaDigest, template)}
}

// wantOllamaLock is the lock the derivation gives the fixture, computed from
// the identity by hand.
func wantOllamaLock(template string) lockid.ID {
	return ollama.Identity{
		EngineVersion: "0.17.4",
		Models:        []string{"sha256:" + ollamaDigest},
		Template:      template,
		Parameters:    []string{`stop "<|end|>"`, `stop "<|user|>"`, "temperature 0"},
	}.Lock()
}

func TestResolve(t *testing.T) {
	manifest, manifestID := sealedManifest(t, "c")
	otherManifest, _ := sealedManifest(t, "d")
	tests := []struct {
		name   string
		fake   *fakeEngine
		model  string
		expect lockid.ID
		// want
		lock     lockid.ID
		source   Source
		strength Strength
		refusal  error // the sentinel, when refused
		msg      string
	}{{
		name:    "no lock",
		fake:    &fakeEngine{models: []string{"m"}},
		refusal: ErrNoLock,
		msg:     "404, the server does not speak the lock protocol",
	}, {
		name:     "well-known without manifest",
		fake:     &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA},
		lock:     lockA,
		source:   SourceWellKnown,
		strength: StrengthDeclared,
	}, {
		name:     "well-known with manifest",
		fake:     &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(manifestID, manifest), header: string(manifestID)},
		lock:     manifestID,
		source:   SourceWellKnown,
		strength: StrengthManifest,
	}, {
		name:    "manifest with mismatching id",
		fake:    &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(manifestID, otherManifest), header: string(manifestID)},
		refusal: ErrManifestMismatch,
		msg:     "its manifest hashes to",
	}, {
		name:    "manifest hand-edited",
		fake:    &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(manifestID, []byte(strings.Replace(string(manifest), `"size": 3`, `"size": 4`, 1)))},
		refusal: ErrManifestMismatch,
	}, {
		name:    "well-known not JSON",
		fake:    &fakeEngine{models: []string{"m"}, wellKnown: "<html>"},
		refusal: ErrManifestMismatch,
	}, {
		name:    "well-known lock not a lock id",
		fake:    &fakeEngine{models: []string{"m"}, wellKnown: `{"lock":"latest"}`},
		refusal: ErrManifestMismatch,
	}, {
		name:    "sidecar stopped claiming",
		fake:    &fakeEngine{models: []string{"m"}, wellKnownCode: 503, wellKnown: `{"error":{"message":"model.gguf changed","type":"lock_mismatch"}}`},
		refusal: ErrNoLock,
		msg:     "stopped claiming its lock: model.gguf changed",
	}, {
		name:    "wrong lock",
		fake:    &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA},
		expect:  lockB,
		refusal: ErrWrongLock,
		msg:     "serves " + lockA + ", not the expected " + lockB,
	}, {
		name:    "well-known and header disagree",
		fake:    &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockB},
		refusal: ErrInconsistent,
		msg:     "well-known reports " + lockA + " but header reports " + lockB,
	}, {
		name:     "header only",
		fake:     &fakeEngine{models: []string{"m"}, header: lockA},
		lock:     lockA,
		source:   SourceHeader,
		strength: StrengthDeclared,
	}, {
		name:     "vLLM fingerprint",
		fake:     &fakeEngine{models: []string{"m"}, fingerprint: lockB},
		lock:     lockB,
		source:   SourceFingerprint,
		strength: StrengthDeclared,
	}, {
		name:    "fingerprint that is no lock",
		fake:    &fakeEngine{models: []string{"m"}, fingerprint: "fp_ollama"},
		refusal: ErrNoLock,
	}, {
		name:     "model name with digest",
		fake:     &fakeEngine{models: []string{"m@" + lockA}},
		lock:     lockA,
		source:   SourceModelName,
		strength: StrengthDeclared,
	}, {
		name:     "model name by its base",
		fake:     &fakeEngine{models: []string{"other", "m@" + lockA}},
		model:    "m",
		lock:     lockA,
		source:   SourceModelName,
		strength: StrengthDeclared,
	}, {
		name:     "ollama",
		fake:     &fakeEngine{models: []string{"tiny:latest"}, fingerprint: "fp_ollama", ollama: ollamaFake("/root/.ollama/models", "{{ .Prompt }}")},
		lock:     wantOllamaLock("{{ .Prompt }}"),
		source:   SourceOllama,
		strength: StrengthStrong,
	}, {
		name:    "ollama model listed but not shown",
		fake:    &fakeEngine{models: []string{"tiny:latest", "other"}, ollama: ollamaFake("/m", "{{ .Prompt }}")},
		model:   "other",
		refusal: ErrNoLock,
		msg:     "model 'other' not found",
	}, {
		name:    "ollama expecting another lock",
		fake:    &fakeEngine{models: []string{"tiny:latest"}, ollama: ollamaFake("/m", "{{ .Prompt }}")},
		expect:  wantOllamaLock("{{ .System }} {{ .Prompt }}"),
		refusal: ErrWrongLock,
	}, {
		name:     "sidecar in front of ollama, ollama lock expected",
		fake:     &fakeEngine{models: []string{"tiny:latest"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA, ollama: ollamaFake("/m", "T")},
		expect:   wantOllamaLock("T"),
		lock:     wantOllamaLock("T"),
		source:   SourceOllama,
		strength: StrengthStrong,
	}, {
		name:     "sidecar in front of ollama, well-known wins",
		fake:     &fakeEngine{models: []string{"tiny:latest"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA, ollama: ollamaFake("/m", "T")},
		lock:     lockA,
		source:   SourceWellKnown,
		strength: StrengthDeclared,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.fake.start(t)
			target, err := Resolve(context.Background(), srv.Client(), []string{srv.URL + "/v1"}, tt.model, tt.expect)
			if tt.refusal != nil {
				if !errors.Is(err, tt.refusal) {
					t.Fatalf("Resolve: err = %v, want %v", err, tt.refusal)
				}
				if got := fault.KindOf(err); got != fault.LockRefused {
					t.Errorf("kind = %v, want KindLockRefused", got)
				}
				// The command advises on a wrong lock, naming its flag.
				if fault.HintOf(err) == "" && !errors.Is(err, ErrWrongLock) {
					t.Errorf("refusal %v has no hint", err)
				}
				if !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("err = %q, want it to contain %q", err, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got, want := target.Lock, tt.lock; got != want {
				t.Errorf("Lock = %s, want %s", got, want)
			}
			if got, want := target.Claim.Source, tt.source; got != want {
				t.Errorf("Source = %s, want %s", got, want)
			}
			if got, want := target.Claim.Strength, tt.strength; got != want {
				t.Errorf("Strength = %s, want %s", got, want)
			}
		})
	}
}

func TestResolveReplicas(t *testing.T) {
	a1 := (&fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}).start(t)
	a2 := (&fakeEngine{models: []string{"m"}, header: lockA}).start(t)
	b := (&fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockB, nil), header: lockB}).start(t)
	none := (&fakeEngine{models: []string{"m"}}).start(t)
	tests := []struct {
		name    string
		urls    []string
		expect  lockid.ID
		refusal error
	}{
		{"agree", []string{a1.URL + "/v1", a2.URL + "/v1"}, "", nil},
		{"agree on the expected lock", []string{a1.URL + "/v1", a2.URL + "/v1"}, lockA, nil},
		{"disagree", []string{a1.URL + "/v1", b.URL + "/v1"}, "", ErrDisagree},
		{"one serves another than expected", []string{a1.URL + "/v1", b.URL + "/v1"}, lockA, ErrWrongLock},
		{"one serves none", []string{a1.URL + "/v1", none.URL + "/v1"}, "", ErrNoLock},
		{"the first serves none", []string{none.URL + "/v1", a1.URL + "/v1"}, "", ErrNoLock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, err := Resolve(context.Background(), nil, tt.urls, "", tt.expect)
			if tt.refusal == nil {
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				if got, want := len(target.Reports), len(tt.urls); got != want {
					t.Fatalf("%d reports, want %d", got, want)
				}
				return
			}
			if !errors.Is(err, tt.refusal) || fault.KindOf(err) != fault.LockRefused {
				t.Fatalf("Resolve: err = %v, want %v", err, tt.refusal)
			}
		})
	}
}

func TestResolveInput(t *testing.T) {
	for _, urls := range [][]string{nil, {"localhost:8000"}, {"ftp://host/v1"}} {
		_, err := Resolve(context.Background(), nil, urls, "", "")
		if fault.KindOf(err) != fault.Input {
			t.Errorf("Resolve(%q): err = %v, want an input error", urls, err)
		}
	}
}

// An endpoint that does not answer, or that serves several models when none
// is named, is a usage problem (exit 2) with its own fix, not a refusal.
func TestResolveNotALockProblem(t *testing.T) {
	down := (&fakeEngine{}).start(t)
	down.Close()
	several := (&fakeEngine{models: []string{"m1", "m2"}}).start(t)
	for _, tt := range []struct {
		name, url, model string
		msg, hint        string
		mark             error // the marker the command advises on
	}{
		{"unreachable", down.URL + "/v1", "m", "unreachable: ", "server is running", nil},
		{"several models, none named", several.URL + "/v1", "", "serves 2 models (m1, m2): which one?", "", ErrWhichModel},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resolve(context.Background(), nil, []string{tt.url}, tt.model, "")
			if got := fault.KindOf(err); got != fault.Input {
				t.Fatalf("err = %v (kind %v), want an input error", err, got)
			}
			if errors.Is(err, ErrNoLock) {
				t.Errorf("err = %v is also a lock refusal", err)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(fault.HintOf(err), tt.hint) {
				t.Errorf("err = %v, hint %q; want %q with a hint naming %q", err, fault.HintOf(err), tt.msg, tt.hint)
			}
			if tt.mark != nil && !errors.Is(err, tt.mark) {
				t.Errorf("err = %v is not marked %v", err, tt.mark)
			}
		})
	}
	// Named, one of the several models is probed as usual.
	if _, err := Resolve(context.Background(), nil, []string{several.URL + "/v1"}, "m1", ""); !errors.Is(err, ErrNoLock) {
		t.Errorf("with --model m1: err = %v, want the refusal of an endpoint that reports no lock", err)
	}
}

func hdr(lock string) http.Header {
	h := http.Header{}
	if lock != "" {
		h.Set(lockid.Header, lock)
	}
	return h
}

func TestCheckResponse(t *testing.T) {
	type response struct {
		header, fingerprint, model string
		errorResponse              bool // an error answer: CheckErrorResponse
	}
	tests := []struct {
		name    string
		fake    *fakeEngine
		resp    response
		refusal error // nil: accepted
	}{
		{"header", &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}, response{lockA, "", "m", false}, nil},
		{"header of another lock", &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}, response{lockB, "", "m", false}, ErrLockChanged},
		{"header missing", &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}, response{"", "", "m", false}, ErrLockMissing},
		{"header required by the well-known document alone", &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil)}, response{"", "", "m", false}, ErrLockMissing},
		{"fingerprint", &fakeEngine{models: []string{"m"}, fingerprint: lockB}, response{"", lockB, "m", false}, nil},
		{"fingerprint of another lock", &fakeEngine{models: []string{"m"}, fingerprint: lockB}, response{"", lockA, "m", false}, ErrLockChanged},
		{"fingerprint missing", &fakeEngine{models: []string{"m"}, fingerprint: lockB}, response{"", "", "m", false}, ErrLockMissing},
		{"model name", &fakeEngine{models: []string{"m@" + lockA}}, response{"", "", "m@" + lockA, false}, nil},
		{"model name of another lock", &fakeEngine{models: []string{"m@" + lockA}}, response{"", "", "m@" + lockB, false}, ErrLockChanged},
		{"ollama model", &fakeEngine{models: []string{"tiny:latest"}, ollama: ollamaFake("/m", "T")}, response{"", "fp_ollama", "tiny", false}, nil},
		{"ollama other model", &fakeEngine{models: []string{"tiny:latest"}, ollama: ollamaFake("/m", "T")}, response{"", "fp_ollama", "tiny2", false}, ErrLockChanged},
		{"error response of a fingerprint lock", &fakeEngine{models: []string{"m"}, fingerprint: lockB}, response{"", "", "", true}, nil},
		{"error response of an ollama lock", &fakeEngine{models: []string{"tiny:latest"}, ollama: ollamaFake("/m", "T")}, response{"", "", "", true}, nil},
		{"error response of a model-name lock", &fakeEngine{models: []string{"m@" + lockA}}, response{"", "", "", true}, nil},
		{"error response without the header", &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}, response{"", "", "", true}, ErrLockMissing},
		{"error response of another lock", &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}, response{lockB, "", "", true}, ErrLockChanged},
		// A completion is vouched for by its channel or refused: silence is
		// not consent (a swapped engine that drops the field).
		{"completion of a fingerprint lock without any field", &fakeEngine{models: []string{"m"}, fingerprint: lockB}, response{"", "", "", false}, ErrLockMissing},
		{"completion of a model-name lock without its model", &fakeEngine{models: []string{"m@" + lockA}}, response{"", "", "", false}, ErrLockMissing},
		{"completion of an ollama lock without its model", &fakeEngine{models: []string{"tiny:latest"}, ollama: ollamaFake("/m", "T")}, response{"", "fp_ollama", "", false}, ErrLockMissing},
		{"ollama model by its full name", &fakeEngine{models: []string{"tiny:latest"}, ollama: ollamaFake("/m", "T")}, response{"", "fp_ollama", "library/tiny:latest", false}, nil},
		{"sidecar before ollama: header still required", &fakeEngine{models: []string{"tiny"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA, ollama: ollamaFake("/m", "T")}, response{"", "", "tiny", false}, ErrLockMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.fake.start(t)
			ep := srv.URL + "/v1"
			target, err := Resolve(context.Background(), nil, []string{ep}, "", "")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			var got lockid.ID
			if tt.resp.errorResponse {
				got, err = target.CheckErrorResponse(ep, hdr(tt.resp.header))
			} else {
				got, err = target.CheckResponse(ep, hdr(tt.resp.header), tt.resp.fingerprint, tt.resp.model)
			}
			if tt.refusal == nil {
				if err != nil {
					t.Fatalf("CheckResponse: %v", err)
				}
				if got != target.Lock {
					t.Fatalf("CheckResponse = %s, want %s", got, target.Lock)
				}
				return
			}
			if !errors.Is(err, tt.refusal) || fault.KindOf(err) != fault.LockRefused {
				t.Fatalf("CheckResponse: err = %v, want %v", err, tt.refusal)
			}
			// The refusal sticks: a good response after it is refused too.
			if _, err := target.CheckResponse(ep, hdr(string(target.Lock)), string(target.Lock), target.Model); !errors.Is(err, tt.refusal) {
				t.Fatalf("after a refusal, CheckResponse: err = %v, want %v again", err, tt.refusal)
			}
		})
	}
}

func TestCheckResponseUnknownEndpoint(t *testing.T) {
	srv := (&fakeEngine{models: []string{"m"}, header: lockA}).start(t)
	target, err := Resolve(context.Background(), nil, []string{srv.URL + "/v1"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := target.CheckResponse("http://elsewhere/v1", hdr(lockA), "", "m"); err == nil || fault.KindOf(err) == fault.LockRefused {
		t.Fatalf("err = %v, want an internal error", err)
	}
}

// A replica behind a load balancer that starts serving another lock mid-run
// is caught on its first response.
func TestCheckResponseReplicaChanges(t *testing.T) {
	f1 := &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}
	f2 := &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}
	s1, s2 := f1.start(t), f2.start(t)
	eps := []string{s1.URL + "/v1", s2.URL + "/v1"}
	target, err := Resolve(context.Background(), nil, eps, "m", lockA)
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range eps {
		if _, err := target.CheckResponse(ep, hdr(lockA), "", "m"); err != nil {
			t.Fatalf("%s: %v", ep, err)
		}
	}
	_, err = target.CheckResponse(eps[1], hdr(lockB), "", "m")
	if !errors.Is(err, ErrLockChanged) || !strings.Contains(err.Error(), eps[1]) {
		t.Fatalf("err = %v, want ErrLockChanged naming %s", err, eps[1])
	}
	if _, err := target.CheckResponse(eps[0], hdr(lockA), "", "m"); !errors.Is(err, ErrLockChanged) {
		t.Fatalf("the other replica after a refusal: err = %v, want the refusal", err)
	}
}

func TestRecheck(t *testing.T) {
	t.Run("ollama", func(t *testing.T) {
		f := &fakeEngine{models: []string{"tiny:latest"}, ollama: ollamaFake("/m", "T1")}
		srv := f.start(t)
		target, err := Resolve(context.Background(), nil, []string{srv.URL + "/v1"}, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := target.Recheck(context.Background()); err != nil {
			t.Fatalf("unchanged: %v", err)
		}
		f.set(func(f *fakeEngine) { f.ollama.version = "0.18.0" })
		if err := target.Recheck(context.Background()); !errors.Is(err, ErrLockChanged) {
			t.Fatalf("engine upgraded: err = %v, want ErrLockChanged", err)
		}
	})
	t.Run("well-known", func(t *testing.T) {
		f := &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}
		srv := f.start(t)
		target, err := Resolve(context.Background(), nil, []string{srv.URL + "/v1"}, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := target.Recheck(context.Background()); err != nil {
			t.Fatalf("unchanged: %v", err)
		}
		f.set(func(f *fakeEngine) { f.wellKnownCode, f.wellKnown = 503, `{"error":{"message":"files changed"}}` })
		err = target.Recheck(context.Background())
		if !errors.Is(err, ErrLockChanged) || !strings.Contains(err.Error(), "files changed") {
			t.Fatalf("sidecar stopped claiming: err = %v, want ErrLockChanged with the reason", err)
		}
	})
}

// CheckResponse is called by every worker of a run at once.
func TestCheckResponseConcurrent(t *testing.T) {
	f := &fakeEngine{models: []string{"tiny"}, ollama: ollamaFake("/m", "T")}
	srv := f.start(t)
	ep := srv.URL + "/v1"
	p := &Prober{Recheck: time.Millisecond}
	target, err := p.Resolve(context.Background(), []string{ep}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := target.CheckResponse(ep, http.Header{}, "", "tiny:latest"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestOllamaIdentity(t *testing.T) {
	base := ollamaShowFixture("/root/.ollama/models", ollamaDigest, "{{ .Prompt }}")
	derive := func(version string, change func(s *ollamaShow)) (lockid.ID, error) {
		s := &ollamaShow{Show: ollama.Show{Modelfile: base["modelfile"].(string), Parameters: base["parameters"].(string), Template: base["template"].(string)}}
		if change != nil {
			change(s)
		}
		id, err := ollamaIdentity(version, s)
		return id.Lock(), err
	}
	want, err := derive("0.17.4", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		version string
		change  func(s *ollamaShow)
		same    bool // the same lock as the base
		fails   bool
	}{
		{"another OLLAMA_MODELS", "0.17.4", func(s *ollamaShow) {
			s.Modelfile = strings.ReplaceAll(s.Modelfile, "/root/.ollama/models", "/srv/models")
		}, true, false},
		{"old blob separator", "0.17.4", func(s *ollamaShow) {
			s.Modelfile = strings.ReplaceAll(s.Modelfile, "sha256-", "sha256:")
		}, true, false},
		{"parameters in another order", "0.17.4", func(s *ollamaShow) {
			s.Parameters = "temperature                    0\nstop                           \"<|end|>\"\nstop                           \"<|user|>\""
		}, true, false},
		{"modified time and details ignored", "0.17.4", func(s *ollamaShow) { s.Details.Family = "x" }, true, false},
		{"stop sequences swapped", "0.17.4", func(s *ollamaShow) {
			s.Parameters = "stop \"<|user|>\"\nstop \"<|end|>\"\ntemperature 0"
		}, false, false},
		{"another template", "0.17.4", func(s *ollamaShow) { s.Template = "{{ .System }}{{ .Prompt }}" }, false, false},
		{"a system prompt", "0.17.4", func(s *ollamaShow) { s.System = "Be brief." }, false, false},
		{"another parameter value", "0.17.4", func(s *ollamaShow) { s.Parameters = strings.Replace(s.Parameters, "0", "0.7", 1) }, false, false},
		{"another engine version", "0.18.0", nil, false, false},
		{"other weights", "0.17.4", func(s *ollamaShow) {
			s.Modelfile = strings.ReplaceAll(s.Modelfile, ollamaDigest, strings.Repeat("2", 64))
		}, false, false},
		{"an adapter", "0.17.4", func(s *ollamaShow) {
			s.Modelfile = strings.Replace(s.Modelfile, "\nTEMPLATE", "\nADAPTER /m/blobs/sha256-"+strings.Repeat("3", 64)+"\nTEMPLATE", 1)
		}, false, false},
		{"a message", "0.17.4", func(s *ollamaShow) {
			s.Messages = append(s.Messages, struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			}{"user", "hi"})
		}, false, false},
		{"a renderer", "0.17.4", func(s *ollamaShow) { s.Renderer = "qwen3-coder" }, false, false},
		{"a parser", "0.17.4", func(s *ollamaShow) { s.Parser = "qwen3-coder" }, false, false},
		{"a system prompt with a FROM line", "0.17.4", func(s *ollamaShow) {
			s.System = "From now on\nFROM here"
			s.Modelfile += "SYSTEM \"\"\"From now on\nFROM here\"\"\"\n"
		}, false, false},
		{"no FROM", "0.17.4", func(s *ollamaShow) { s.Modelfile = "TEMPLATE x\n" }, false, true},
		{"FROM without a digest", "0.17.4", func(s *ollamaShow) { s.Modelfile = "FROM llama3\n" }, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := derive(tt.version, tt.change)
			if tt.fails {
				if err == nil {
					t.Fatalf("derived %s, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind() != lockid.Ollama {
				t.Fatalf("lock %q has not the shape ollama:sha256:<hex>", got)
			}
			if same := got == want; same != tt.same {
				t.Fatalf("same lock = %v, want %v", same, tt.same)
			}
		})
	}
}

// The identity document travels on the Report and the Target: Ollama's
// derived lock carries its canonical identity, a well-known manifest its
// manifest, a lock without a document none.
func TestTargetDocument(t *testing.T) {
	manifest, manifestID := sealedManifest(t, "c")
	tmpl := "{{ .Prompt }}"
	tests := []struct {
		name string
		fake *fakeEngine
		want func(lock lockid.ID, doc []byte) bool
	}{
		{"ollama", &fakeEngine{ollama: ollamaFake("/root/.ollama/models", tmpl)}, func(l lockid.ID, doc []byte) bool {
			o, err := ollama.ParseIdentity(l, doc)
			return err == nil && l == wantOllamaLock(tmpl) && o.Template == tmpl
		}},
		{"well-known with manifest", &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(manifestID, manifest), header: string(manifestID)},
			func(l lockid.ID, doc []byte) bool {
				return l == manifestID && bytes.Equal(doc, bytes.TrimSpace(manifest))
			}},
		{"well-known without manifest", &fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA},
			func(l lockid.ID, doc []byte) bool { return l == lockA && doc == nil }},
		{"header only", &fakeEngine{models: []string{"m"}, header: lockA},
			func(l lockid.ID, doc []byte) bool { return l == lockA && doc == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.fake.start(t)
			model := ""
			if tt.fake.ollama != nil {
				model = "tiny"
			}
			target, err := Resolve(context.Background(), srv.Client(), []string{srv.URL + "/v1"}, model, "")
			if err != nil {
				t.Fatal(err)
			}
			if doc := target.Document(); !tt.want(target.Lock, doc) {
				t.Fatalf("lock %s, document %.200s: not the lock's identity document", target.Lock, doc)
			}
			if other := target.Reports[0].Document(lockB); other != nil {
				t.Errorf("Document of a lock not reported = %.100s, want nil", other)
			}
		})
	}
}

func TestIsLockID(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{lockA, true},
		{"ollama:sha256:" + strings.Repeat("0", 64), true},
		{"sha256:" + strings.Repeat("A", 64), false},
		{"sha256:" + strings.Repeat("a", 63), false},
		{"fp_ollama", false},
		{"", false},
		{" " + lockA, false},
	}
	for _, tt := range tests {
		if got := lockid.Valid(tt.s); got != tt.want {
			t.Errorf("lockid.Valid(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestOrigin(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://host:8000/v1", "http://host:8000"},
		{"https://gw.example/llm/v1/", "https://gw.example"},
		{"http://127.0.0.1:11434", "http://127.0.0.1:11434"},
	}
	for _, tt := range tests {
		got, err := Origin(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Origin(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestOllamaName(t *testing.T) {
	const full = "registry.ollama.ai/library/tiny:latest"
	tests := []struct{ in, want string }{
		{"tiny", full},
		{"tiny:latest", full},
		{"library/tiny", full},
		{"library/tiny:latest", full},
		{"registry.ollama.ai/library/tiny:latest", full},
		{"Tiny:V1", "registry.ollama.ai/library/tiny:v1"},
		{"user/tiny", "registry.ollama.ai/user/tiny:latest"},
		{"registry:5000/lib/tiny", "registry:5000/lib/tiny:latest"},
	}
	for _, tt := range tests {
		if got := ollamaName(tt.in); got != tt.want {
			t.Errorf("ollamaName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// BenchmarkCheckResponse measures the per-response check every worker of a
// run makes: it must cost next to nothing beside a completion.
func BenchmarkCheckResponse(b *testing.B) {
	srv := (&fakeEngine{models: []string{"m"}, wellKnown: wellKnownDoc(lockA, nil), header: lockA}).start(b)
	ep := srv.URL + "/v1"
	target, err := Resolve(context.Background(), nil, []string{ep}, "", "")
	if err != nil {
		b.Fatal(err)
	}
	h := hdr(lockA)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := target.CheckResponse(ep, h, "", "m"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
