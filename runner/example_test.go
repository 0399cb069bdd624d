package runner_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/evalpin/evalpin/eval"
	"github.com/evalpin/evalpin/internal/lockid"
	"github.com/evalpin/evalpin/internal/stubserver"
	"github.com/evalpin/evalpin/runner"
)

// printSink prints each result; a store would batch them to disk instead.
type printSink struct{}

func (printSink) Put(r eval.Result) {
	fmt.Printf("%s/%d %q lock=%s\n", r.CaseID, r.Sample, r.Output, r.Lock)
}
func (printSink) Err() error { return nil }

func Example() {
	srv := httptest.NewServer(stubserver.New(stubserver.Config{Lock: "sha256:1234"}))
	defer srv.Close()

	suite := eval.Suite{
		Settings: eval.DefaultSettings(),
		Cases:    []eval.Case{{ID: "greet", Messages: []eval.Message{{Role: "user", Content: "hello"}}}},
	}
	r, err := runner.New(runner.Config{
		Endpoints:   []string{srv.URL + "/v1"},
		Model:       "stub",
		Concurrency: 4,
		Sink:        printSink{},
		CheckResponse: func(endpoint string, h http.Header, fingerprint, model string) (lockid.ID, error) {
			if got := h.Get(lockid.Header); got != "sha256:1234" {
				return "", fmt.Errorf("%s serves %q, want sha256:1234", endpoint, got)
			}
			return "sha256:1234", nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sum, err := r.Run(context.Background(), runner.SuitePlan(suite, nil))
	fmt.Println(sum.Results, "result(s), errors:", sum.ErrorCount(), err)
	// Output:
	// greet/0 "echo: hello" lock=sha256:1234
	// 1 result(s), errors: 0 <nil>
}
