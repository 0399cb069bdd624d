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

// vectorManifestV2 is the version 2 test vector of docs/lock.md: a GGUF file
// with its parts, a config.json with values, a Modelfile.
func vectorManifestV2() *Manifest {
	return &Manifest{
		Version: 2,
		Source:  Source{Repo: "example-org/tiny-chat-gguf", Revision: ""},
		Files: []File{
			{Path: "model.gguf", Size: 4096, SHA256: "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d", Role: RoleWeights,
				RestSHA256: "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"},
			{Path: "model.gguf#tensors", Size: 3904, SHA256: "18ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e4", Role: RoleWeights,
				Values: map[string]any{"quantization": "Q8_0", "shapes": "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea",
					"tensor_types": map[string]any{"F32": 1.0, "Q8_0": 1.0}}},
			{Path: "model.gguf#tokenizer", Size: 121, SHA256: "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111", Role: RoleTokenizer},
			{Path: "config.json", Size: 85, SHA256: "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", Role: RoleConfig,
				RestSHA256: "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
				Values:     map[string]any{"torch_dtype": "bfloat16", "rope_scaling": map[string]any{"type": "linear", "factor": 2.0}}},
			{Path: "Modelfile", Size: 22, SHA256: "cd0aa9856147b6c5b4ff2b7dfee5da20aa38253099ef1b4a64aced233c9afe29", Role: RoleConfig,
				RestSHA256: "b5d1b1d0b7f2d2f0a3c1e6d0a0e4f6a1b2c3d4e5f60718293a4b5c6d7e8f9012"},
		},
		Serving:    Serving{Engine: "ollama", EngineVersion: "0.5.7", Quantization: "Q8_0"},
		Generation: map[string]any{"temperature": 0.6},
		Created:    time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC),
	}
}
