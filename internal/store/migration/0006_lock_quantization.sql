-- quantization is what the engine reported of a lock's weights when it was
-- seen (Ollama's /api/show details.quantization_level, e.g. Q4_K_M), '' when
-- unknown. It is not part of the lock's identity: it lets a diff say
-- "quantization F16 → Q4_K_M" where the identity says "weights changed".
ALTER TABLE locks ADD COLUMN quantization TEXT NOT NULL DEFAULT '';
