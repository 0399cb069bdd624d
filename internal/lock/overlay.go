package lock

import "maps"

// Overlay returns the serving layer and generation parameters of a lock
// being created from a serving file and fields given one by one (a command
// line's flags), which win over it: the file at path ("" for none), then
// the fields of over whose YAML keys set reports (engine, engine_version,
// image_digest, dtype, quantization, max_context), over's engine args
// appended to the file's, and params (key → text, read by GenerationValue)
// added to its generation.
func Overlay(path string, over Serving, set func(key string) bool, params map[string]string) (Serving, map[string]any, error) {
	var s Serving
	gen := map[string]any{}
	if path != "" {
		sf, err := ReadServing(path)
		if err != nil {
			return s, nil, err
		}
		s = sf.Serving
		maps.Copy(gen, sf.Generation)
	}
	for key, v := range map[string]struct{ dst, src *string }{
		"engine":         {&s.Engine, &over.Engine},
		"engine_version": {&s.EngineVersion, &over.EngineVersion},
		"image_digest":   {&s.ImageDigest, &over.ImageDigest},
		"dtype":          {&s.Dtype, &over.Dtype},
		"quantization":   {&s.Quantization, &over.Quantization},
	} {
		if set(key) {
			*v.dst = *v.src
		}
	}
	if set("max_context") {
		s.MaxContext = over.MaxContext
	}
	s.EngineArgs = append(s.EngineArgs, over.EngineArgs...)
	for k, v := range params {
		gen[k] = GenerationValue(v)
	}
	return s, gen, nil
}
