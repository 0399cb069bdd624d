package lock

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// A GGUF file (llama.cpp's and Ollama's container) holds the tensors, the
// tokenizer, the chat template and the architecture's settings in one file.
// Version 2 manifests record each as a part of the file (docs/lock.md,
// "GGUF parts"), read here from the header while the whole file is hashed:
// the header, the metadata key-value pairs and the tensor infos are parsed,
// the tensor data is only streamed through a hash. The file is untrusted:
// every count and length is bounded, nothing is allocated in proportion to a
// count read from it, and a file that is not a well-formed GGUF (version 2
// or 3, little-endian) gets no parts; its whole-file hash is unaffected.

// ggufMagic starts every GGUF file.
const ggufMagic = "GGUF"

// Bounds on what a GGUF header may declare. Real files have a few dozen
// metadata pairs and at most tens of thousands of tensors.
const (
	ggufMaxKV        = 1 << 16     // metadata pairs
	ggufMaxTensors   = 1 << 24     // tensor infos
	ggufMaxKey       = 1 << 16     // bytes of a key or a tensor name
	ggufMaxTemplate  = maxAnalyzed // bytes of a chat template kept as text
	ggufMaxDims      = 4           // GGML_MAX_DIMS
	ggufMaxDepth     = 3           // arrays nested in arrays
	ggufMaxAlign     = 1 << 16     // general.alignment
	ggufDefaultAlign = 32
)

// errNotGGUF marks a file that is not a well-formed GGUF file.
var errNotGGUF = errors.New("not a well-formed GGUF file")

// The GGUF metadata value types.
const (
	ggufUint8 = iota
	ggufInt8
	ggufUint16
	ggufInt16
	ggufUint32
	ggufInt32
	ggufFloat32
	ggufBool
	ggufString
	ggufArray
	ggufUint64
	ggufInt64
	ggufFloat64
)

// ggufScalarSize returns the encoded size of a fixed-size value type, or 0.
func ggufScalarSize(t uint32) uint64 {
	switch t {
	case ggufUint8, ggufInt8, ggufBool:
		return 1
	case ggufUint16, ggufInt16:
		return 2
	case ggufUint32, ggufInt32, ggufFloat32:
		return 4
	case ggufUint64, ggufInt64, ggufFloat64:
		return 8
	}
	return 0
}

// ggmlTypes names the ggml tensor element types (ggml.h's enum ggml_type).
var ggmlTypes = map[uint32]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
	10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K",
	16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S",
	22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
	29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
}

func ggmlTypeName(t uint32) string {
	if n, ok := ggmlTypes[t]; ok {
		return n
	}
	return fmt.Sprintf("type%d", t)
}

// ggufFileTypes names the values of general.file_type (llama.h's enum
// llama_ftype, "MOSTLY_" dropped).
var ggufFileTypes = map[uint64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 4: "Q4_1_SOME_F16", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
	10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
	16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
	22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
	28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
	38: "MXFP4_MOE",
}

// The parts of a GGUF file, by the suffix of their virtual entries.
const (
	ggufTensorsPart   = "#tensors"
	ggufTokenizerPart = "#tokenizer"
	ggufMetadataPart  = "#metadata"
	ggufTemplatePart  = "#chat_template"
)

// ggufTensorKeys are the metadata keys that describe the tensors' encoding;
// they belong to the #tensors part.
var ggufTensorKeys = map[string]bool{
	"general.alignment": true, "general.file_type": true, "general.quantization_version": true,
}

// An item is one hashed piece of a part: its key (for sorting metadata pairs),
// the SHA-256 of its bytes and their number.
type ggufItem struct {
	key  string
	sum  [32]byte
	size int64
}

// A ggufReader reads a GGUF header, sending every byte it reads to sink.
type ggufReader struct {
	r    *bufio.Reader
	pos  int64
	sink io.Writer
	buf  [8]byte
}

func (g *ggufReader) read(p []byte) error {
	n, err := io.ReadFull(g.r, p)
	g.pos += int64(n)
	if g.sink != nil {
		g.sink.Write(p[:n])
	}
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated at byte %d", errNotGGUF, g.pos)
	case err != nil:
		return err
	}
	return nil
}

func (g *ggufReader) u32() (uint32, error) {
	err := g.read(g.buf[:4])
	return binary.LittleEndian.Uint32(g.buf[:4]), err
}

func (g *ggufReader) u64() (uint64, error) {
	err := g.read(g.buf[:8])
	return binary.LittleEndian.Uint64(g.buf[:8]), err
}

// skip reads n bytes into the sink, a chunk at a time.
func (g *ggufReader) skip(n uint64) error {
	var chunk [4096]byte
	for n > 0 {
		k := min(n, uint64(len(chunk)))
		if err := g.read(chunk[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// str reads a string; it returns the text only when keep and the string is
// at most max bytes, and otherwise streams it into the sink.
func (g *ggufReader) str(max uint64, keep bool) (string, bool, error) {
	n, err := g.u64()
	if err != nil {
		return "", false, err
	}
	if !keep || n > max {
		return "", false, g.skip(n)
	}
	b := make([]byte, n)
	if err := g.read(b); err != nil {
		return "", false, err
	}
	return string(b), true, nil
}

// A ggufValue is what the reader keeps of a metadata value: an unsigned
// integer, or a string's text.
type ggufValue struct {
	typ   uint32
	num   uint64
	isNum bool
	text  string
	isStr bool
}

// value reads a value of type t; strings are kept when keepText.
func (g *ggufReader) value(t uint32, depth int, keepText bool) (ggufValue, error) {
	v := ggufValue{typ: t}
	if size := ggufScalarSize(t); size > 0 {
		if err := g.read(g.buf[:size]); err != nil {
			return v, err
		}
		switch t {
		case ggufUint8, ggufUint16, ggufUint32, ggufUint64, ggufInt8, ggufInt16, ggufInt32, ggufInt64:
			var b [8]byte
			copy(b[:], g.buf[:size])
			v.num, v.isNum = binary.LittleEndian.Uint64(b[:]), true
		}
		return v, nil
	}
	switch t {
	case ggufString:
		text, kept, err := g.str(ggufMaxTemplate, keepText)
		v.text, v.isStr = text, kept
		return v, err
	case ggufArray:
		if depth >= ggufMaxDepth {
			return v, fmt.Errorf("%w: arrays nested deeper than %d", errNotGGUF, ggufMaxDepth)
		}
		elem, err := g.u32()
		if err != nil {
			return v, err
		}
		n, err := g.u64()
		if err != nil {
			return v, err
		}
		if size := ggufScalarSize(elem); size > 0 {
			if n > (1<<62)/size {
				return v, fmt.Errorf("%w: array of %d values", errNotGGUF, n)
			}
			return v, g.skip(n * size)
		}
		if elem != ggufString && elem != ggufArray {
			return v, fmt.Errorf("%w: array of unknown type %d", errNotGGUF, elem)
		}
		for range n {
			if _, err := g.value(elem, depth+1, false); err != nil {
				return v, err
			}
		}
		return v, nil
	}
	return v, fmt.Errorf("%w: unknown value type %d", errNotGGUF, t)
}

// A ggufAnalysis is what a GGUF file's header says: its parts and the hash of
// the rest (docs/lock.md, "GGUF parts").
type ggufAnalysis struct {
	parts []part
	rest  string
}

// itemsSum is a part's or the rest's hash: the SHA-256 of its items' hashes
// in order; size is the items' total size.
func itemsSum(items []ggufItem) (sum string, size int64) {
	h := sha256.New()
	for _, it := range items {
		h.Write(it.sum[:])
		size += it.size
	}
	return hex.EncodeToString(h.Sum(nil)), size
}

// byKey sorts metadata items by key bytes.
func byKey(items []ggufItem) []ggufItem {
	slices.SortFunc(items, func(a, b ggufItem) int { return strings.Compare(a.key, b.key) })
	return items
}

// templateName returns NAME of a "tokenizer.chat_template.NAME" key when it
// can name a virtual entry.
func templateName(key string) (string, bool) {
	name, ok := strings.CutPrefix(key, "tokenizer.chat_template.")
	return name, ok && name != "" && utf8.ValidString(name) && !strings.ContainsAny(name, "#/\\\n")
}

// readGGUF reads the GGUF file r to its end: the header into parts, the tensor
// data through the #tensors hash. r must start at the file's first byte (the
// magic). A malformed header is errNotGGUF, and r is left part read.
func readGGUF(ctx context.Context, r io.Reader) (ggufAnalysis, error) {
	g := &ggufReader{r: bufio.NewReaderSize(ctxReader{ctx, r}, 1<<16)}
	var magic [4]byte
	if err := g.read(magic[:]); err != nil || string(magic[:]) != ggufMagic {
		return ggufAnalysis{}, fmt.Errorf("%w: no GGUF magic", errNotGGUF)
	}
	var rest []ggufItem
	version, err := g.u32()
	if err != nil {
		return ggufAnalysis{}, err
	}
	if version != 2 && version != 3 {
		return ggufAnalysis{}, fmt.Errorf("%w: version %d (want 2 or 3, little-endian)", errNotGGUF, version)
	}
	binary.LittleEndian.PutUint32(g.buf[:4], version)
	rest = append(rest, ggufItem{sum: sha256.Sum256(g.buf[:4]), size: 4})
	nTensors, err := g.u64()
	if err != nil {
		return ggufAnalysis{}, err
	}
	nKV, err := g.u64()
	if err != nil {
		return ggufAnalysis{}, err
	}
	if nTensors > ggufMaxTensors || nKV > ggufMaxKV {
		return ggufAnalysis{}, fmt.Errorf("%w: %d tensors and %d metadata pairs", errNotGGUF, nTensors, nKV)
	}

	var tokenizer, metadata, tensorKeys []ggufItem
	var parts []part
	seen := map[string]bool{}
	align := uint64(ggufDefaultAlign)
	fileType, hasFileType := uint64(0), false
	for range nKV {
		h := sha256.New()
		start := g.pos
		g.sink = h
		key, _, err := g.str(ggufMaxKey, true)
		if err != nil {
			return ggufAnalysis{}, err
		}
		if len(key) == 0 || len(key) > ggufMaxKey || seen[key] {
			return ggufAnalysis{}, fmt.Errorf("%w: empty, overlong or repeated metadata key", errNotGGUF)
		}
		seen[key] = true
		t, err := g.u32()
		if err != nil {
			return ggufAnalysis{}, err
		}
		_, named := templateName(key)
		isTemplate := key == "tokenizer.chat_template" || named
		v, err := g.value(t, 0, isTemplate)
		if err != nil {
			return ggufAnalysis{}, err
		}
		g.sink = nil
		var it ggufItem
		it.key, it.size = key, g.pos-start
		copy(it.sum[:], h.Sum(nil))
		switch {
		case isTemplate && v.isStr:
			suffix := ggufTemplatePart
			if name, ok := templateName(key); ok {
				suffix += "." + name
			}
			parts = append(parts, newPart(suffix, RoleTemplate, v.text))
		case key == "tokenizer.chat_templates":
			// The list of template names, which the named parts say.
		case strings.HasPrefix(key, "tokenizer."):
			tokenizer = append(tokenizer, it)
		case ggufTensorKeys[key]:
			tensorKeys = append(tensorKeys, it)
			switch {
			case key == "general.alignment" && t == ggufUint32:
				align = v.num
				if align == 0 || align%8 != 0 || align > ggufMaxAlign {
					return ggufAnalysis{}, fmt.Errorf("%w: general.alignment %d", errNotGGUF, align)
				}
			case key == "general.file_type" && v.isNum:
				fileType, hasFileType = v.num, true
			}
		case key == "general.architecture" || !strings.HasPrefix(key, "general."):
			metadata = append(metadata, it)
		default:
			rest = append(rest, it)
		}
	}

	// Tensor infos, then the data: one item of the #tensors part.
	th := sha256.New()
	shapes := sha256.New()
	counts := map[string]float64{}
	elements := map[uint32]uint64{}
	tensorsStart := g.pos
	g.sink = th
	for range nTensors {
		name, _, err := g.str(ggufMaxKey, true)
		if err != nil {
			return ggufAnalysis{}, err
		}
		if len(name) > ggufMaxKey {
			return ggufAnalysis{}, fmt.Errorf("%w: tensor name of %d bytes", errNotGGUF, len(name))
		}
		nDims, err := g.u32()
		if err != nil {
			return ggufAnalysis{}, err
		}
		if nDims > ggufMaxDims {
			return ggufAnalysis{}, fmt.Errorf("%w: tensor %q has %d dimensions", errNotGGUF, name, nDims)
		}
		binary.Write(shapes, binary.LittleEndian, uint64(len(name)))
		shapes.Write([]byte(name))
		binary.Write(shapes, binary.LittleEndian, nDims)
		n := uint64(1)
		for range nDims {
			d, err := g.u64()
			if err != nil {
				return ggufAnalysis{}, err
			}
			binary.Write(shapes, binary.LittleEndian, d)
			n = satMul(n, d)
		}
		typ, err := g.u32()
		if err != nil {
			return ggufAnalysis{}, err
		}
		if _, err := g.u64(); err != nil { // the offset, covered by the hash
			return ggufAnalysis{}, err
		}
		counts[ggmlTypeName(typ)]++
		elements[typ] = satAdd(elements[typ], n)
	}
	// The padding up to the data: part of the rest.
	g.sink = nil
	infoSize := g.pos - tensorsStart
	pad := (align - uint64(g.pos)%align) % align
	ph := &padHash{Hash: sha256.New()}
	g.sink = ph
	if err := g.skip(pad); err != nil && !errors.Is(err, errNotGGUF) {
		return ggufAnalysis{}, err
	}
	g.sink = th
	// Zero padding follows from the header's length, which the parts
	// cover; only padding that holds other bytes is an item of the rest.
	var padItems []ggufItem
	if ph.nonzero {
		var it ggufItem
		it.size = int64(pad)
		copy(it.sum[:], ph.Sum(nil))
		padItems = append(padItems, it)
	}
	n, err := hashInto(ctx, th, g.r)
	if err != nil {
		return ggufAnalysis{}, err
	}
	var tensorsItem ggufItem
	tensorsItem.size = infoSize + n
	copy(tensorsItem.sum[:], th.Sum(nil))

	quant := ""
	if hasFileType {
		quant = ggufFileTypes[fileType]
		if quant == "" {
			quant = fmt.Sprintf("file_type %d", fileType)
		}
	} else if len(elements) > 0 {
		// The type holding the most elements; ties to the lower code.
		best := slices.SortedFunc(maps.Keys(elements), func(a, b uint32) int {
			return cmp.Or(cmp.Compare(elements[b], elements[a]), cmp.Compare(a, b))
		})[0]
		quant = ggmlTypeName(best)
	}
	tp := part{Suffix: ggufTensorsPart, Role: RoleWeights, Values: map[string]any{
		"tensor_types": anyMap(counts),
		"shapes":       hex.EncodeToString(shapes.Sum(nil)),
	}}
	if quant != "" {
		tp.Values["quantization"] = quant
	}
	tp.SHA256, tp.Size = itemsSum(append(byKey(tensorKeys), tensorsItem))
	parts = append(parts, tp)
	if len(tokenizer) > 0 {
		p := part{Suffix: ggufTokenizerPart, Role: RoleTokenizer}
		p.SHA256, p.Size = itemsSum(byKey(tokenizer))
		parts = append(parts, p)
	}
	if len(metadata) > 0 {
		p := part{Suffix: ggufMetadataPart, Role: RoleConfig}
		p.SHA256, p.Size = itemsSum(byKey(metadata))
		parts = append(parts, p)
	}
	slices.SortFunc(parts, func(a, b part) int { return strings.Compare(a.Suffix, b.Suffix) })
	restSum, _ := itemsSum(append(append(rest[:1:1], byKey(rest[1:])...), padItems...))
	return ggufAnalysis{parts: parts, rest: restSum}, nil
}

// A padHash hashes padding and notes whether it holds a non-zero byte.
type padHash struct {
	hash.Hash
	nonzero bool
}

func (p *padHash) Write(b []byte) (int, error) {
	for _, c := range b {
		p.nonzero = p.nonzero || c != 0
	}
	return p.Hash.Write(b)
}

func anyMap(m map[string]float64) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func satMul(a, b uint64) uint64 {
	if a != 0 && b > ^uint64(0)/a {
		return ^uint64(0)
	}
	return a * b
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

// ctxReader stops reading once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
