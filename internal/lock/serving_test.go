package lock

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The serving file's fields, then the fields set one by one, which win;
// engine arguments add to the file's; parameters are read as JSON or text.
func TestServingRequestApply(t *testing.T) {
	file := filepath.Join(t.TempDir(), "serving.yaml")
	os.WriteFile(file, []byte("engine: vllm\ndtype: bfloat16\nengine_args: [--enforce-eager]\ngeneration:\n  temperature: 0.7\n"), 0o644)
	r := ServingRequest{
		File: file, Serving: Serving{Dtype: "float16", Quantization: "awq"}, Set: []string{"dtype"},
		EngineArgs: []string{"--max-num-seqs=8"}, Params: map[string]string{"top_p": "0.9", "stop": "END"},
	}
	var opts Options
	if err := r.Apply(&opts); err != nil {
		t.Fatal(err)
	}
	want := Serving{Engine: "vllm", Dtype: "float16", EngineArgs: []string{"--enforce-eager", "--max-num-seqs=8"}}
	if !reflect.DeepEqual(opts.Serving, want) {
		t.Errorf("Serving = %+v, want %+v (quantization was not set, so the file's empty one stays)", opts.Serving, want)
	}
	if len(opts.Generation) != 3 || opts.Generation["stop"] != "END" {
		t.Errorf("Generation = %v", opts.Generation)
	}
	if err := (ServingRequest{Set: []string{"gpu"}}).Apply(&opts); err == nil {
		t.Error("an unknown field was accepted")
	}
}
