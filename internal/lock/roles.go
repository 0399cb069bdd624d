package lock

import (
	"path"
	"path/filepath"
	"strings"
)

// weightExts are the file name extensions of weights and weight shards.
var weightExts = map[string]bool{
	".safetensors": true, ".bin": true, ".gguf": true, ".ggml": true, ".pt": true,
	".pth": true, ".ckpt": true, ".h5": true, ".msgpack": true, ".onnx": true,
	".onnx_data": true, ".tflite": true, ".npz": true, ".pb": true, ".ot": true,
	".nemo": true, ".llamafile": true, ".mlmodel": true,
}

// tokenizerNames are the file names of tokenizers.
var tokenizerNames = map[string]bool{
	"tokenizer.json": true, "tokenizer.model": true, "merges.txt": true,
	"special_tokens_map.json": true, "added_tokens.json": true,
	"tokenizer_config.json": true, "spiece.model": true,
	"sentencepiece.bpe.model": true, "tokenizer.tiktoken": true,
}

// configNames are the file names of model, generation and quantization configs.
var configNames = map[string]bool{
	"config.json": true, "generation_config.json": true,
	"quantize_config.json": true, "quant_config.json": true,
	"quantization_config.json": true, "hf_quant_config.json": true,
	"params.json": true, "adapter_config.json": true,
	"preprocessor_config.json": true, "processor_config.json": true,
	"modelfile": true,
}

// RoleOf classifies a file by its slash-separated path (only the name counts):
// weights by extension (.safetensors .bin .gguf .pt .pth .ckpt .h5 .msgpack .onnx
// and the like, and *.safetensors.index.json), tokenizer files by name
// (tokenizer.json, tokenizer.model, vocab.*, merges.txt, …), templates
// (chat_template.jinja, chat_template.json, *.jinja), configs (config.json,
// generation_config.json, quantization configs, an Ollama Modelfile), and other.
// A Modelfile's FROM and ADAPTER files are weights whatever their names; Create
// sees to that.
func RoleOf(p string) Role {
	name := strings.ToLower(path.Base(p))
	ext := path.Ext(name)
	switch {
	case weightExts[ext] || strings.HasSuffix(name, ".safetensors.index.json") ||
		strings.HasSuffix(name, ".bin.index.json") || strings.HasSuffix(name, ".onnx.data"):
		return RoleWeights
	case tokenizerNames[name] || strings.HasPrefix(name, "vocab.") || strings.HasPrefix(name, "vocab_"):
		return RoleTokenizer
	case name == "chat_template.json" || ext == ".jinja" || ext == ".j2":
		return RoleTemplate
	case configNames[name] || strings.HasSuffix(name, ".modelfile") || strings.HasPrefix(name, "modelfile."):
		return RoleConfig
	}
	return RoleOther
}

// Excluded reports whether a file at the slash-separated path p inside a model
// directory is left out of a lock because it does not change the model's
// behaviour: hidden files and directories (any component starting with ".",
// which covers .git*, .cache/ and .gitattributes), README*, LICENSE*, *.md, and a
// lock file kept in the directory under the name evalpin.lock.
func Excluded(p string) bool {
	for _, c := range strings.Split(p, "/") {
		if strings.HasPrefix(c, ".") {
			return true
		}
	}
	name := path.Base(p)
	upper := strings.ToUpper(name)
	return strings.HasPrefix(upper, "README") || strings.HasPrefix(upper, "LICENSE") ||
		strings.EqualFold(path.Ext(name), ".md") || name == "evalpin.lock"
}

// Counted reports whether a file written at path would be one of the files
// of the model directory dir, so that Verify would count it as an extra
// file: it is inside dir and not Excluded (a lock file kept there must be
// named evalpin.lock).
func Counted(dir, path string) bool {
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(ad, ap)
	if err != nil || strings.HasPrefix(rel, "..") {
		return false
	}
	return !Excluded(filepath.ToSlash(rel))
}

// isModelfile reports whether the file at p is an Ollama Modelfile.
func isModelfile(p string) bool {
	name := strings.ToLower(path.Base(p))
	return name == "modelfile" || strings.HasSuffix(name, ".modelfile") || strings.HasPrefix(name, "modelfile.")
}

// embedsTemplate reports whether the file at p is a JSON config that may embed a
// chat template under the "chat_template" key.
func embedsTemplate(p string) bool {
	switch path.Base(p) {
	case "tokenizer_config.json", "processor_config.json":
		return true
	}
	return false
}
