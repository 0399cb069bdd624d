package lock

import "time"

// vectorManifest is the test vector of docs/lock.md.
func vectorManifest() *Manifest {
	return &Manifest{
		Version: 1,
		Source:  Source{Repo: "example-org/tiny-chat", Revision: "3f2a9c1e"},
		Files: []File{
			{Path: "tokenizer_config.json", Size: 118, SHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", Role: RoleTokenizer, RestSHA256: "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"},
			{Path: "model.safetensors", Size: 1048576, SHA256: "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58", Role: RoleWeights},
			{Path: "tokenizer_config.json#chat_template", Size: 27, SHA256: "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", Role: RoleTemplate},
		},
		Serving: Serving{Engine: "vllm", EngineVersion: "0.6.3", Dtype: "bfloat16", MaxContext: 4096,
			EngineArgs: []string{"--seed=0", "--enable-prefix-caching"}},
		Generation: map[string]any{"temperature": 0.6, "top_p": 1.0, "stop": []any{"</s>"}},
		Labels:     map[string]string{"track": "tiny"},
		Note:       "not identity",
		Created:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}
