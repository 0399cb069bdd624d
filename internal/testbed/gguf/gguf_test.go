package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// small is a file with one value of every supported type and two tensors
// whose sizes force padding.
func small() *File {
	return &File{
		KV: []KV{
			{Key: "general.architecture", Value: "llama"},
			{Key: "u8", Value: uint8(7)},
			{Key: "i8", Value: int8(-7)},
			{Key: "u16", Value: uint16(700)},
			{Key: "i16", Value: int16(-700)},
			{Key: "u32", Value: uint32(70000)},
			{Key: "i32", Value: int32(-70000)},
			{Key: "u64", Value: uint64(1) << 40},
			{Key: "i64", Value: int64(-1) << 40},
			{Key: "f32", Value: float32(1.5)},
			{Key: "f64", Value: float64(-2.25)},
			{Key: "bool", Value: true},
			{Key: "strings", Value: []string{"<unk>", "▁the", ""}},
			{Key: "floats", Value: []float32{0, -1, 2.5}},
			{Key: "ints", Value: []int32{1, 2, 6}},
			{Key: "bools", Value: []bool{true, false}},
		},
		Tensors: []Tensor{
			{Name: "a.weight", Dims: []uint64{3}, Type: TensorF32, Data: F32Data([]float32{1, 2, 3})},
			{Name: "b.weight", Dims: []uint64{3, 2}, Type: TensorF16, Data: F16Data([]float32{1, -1, 0.5, 2, 0, 65504})},
		},
	}
}

func encode(t *testing.T, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	want := small()
	b := encode(t, want)
	got, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Read(Write(f)) = %+v, want %+v", got, want)
	}
	if got, want := got.Tensor("b.weight").Float32s(), []float32{1, -1, 0.5, 2, 0, 65504}; !reflect.DeepEqual(got, want) {
		t.Fatalf("b.weight = %v, want %v", got, want)
	}
}

// TestGolden pins the exact bytes, checked by hand against the GGUF v3
// specification (see TestLayout).
func TestGolden(t *testing.T) {
	got := encode(t, small())
	path := filepath.Join("testdata", "small.gguf")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Write output differs from %s (run go test -update to accept)", path)
	}
}

// TestLayout checks the header and the alignment of the data section field
// by field.
func TestLayout(t *testing.T) {
	f := &File{
		KV:      []KV{{Key: "k", Value: uint32(9)}},
		Tensors: []Tensor{{Name: "t", Dims: []uint64{1}, Type: TensorF32, Data: F32Data([]float32{1})}},
	}
	b := encode(t, f)
	le := binary.LittleEndian
	var want []byte
	want = append(want, "GGUF"...)
	want = le.AppendUint32(want, 3)
	want = le.AppendUint64(want, 1) // tensors
	want = le.AppendUint64(want, 1) // metadata pairs
	want = le.AppendUint64(want, 1)
	want = append(want, 'k')
	want = le.AppendUint32(want, uint32(TypeUint32))
	want = le.AppendUint32(want, 9)
	want = le.AppendUint64(want, 1)
	want = append(want, 't')
	want = le.AppendUint32(want, 1) // dimensions
	want = le.AppendUint64(want, 1)
	want = le.AppendUint32(want, uint32(TensorF32))
	want = le.AppendUint64(want, 0) // offset
	for len(want)%DefaultAlignment != 0 {
		want = append(want, 0)
	}
	want = le.AppendUint32(want, math.Float32bits(1))
	for len(want)%DefaultAlignment != 0 {
		want = append(want, 0)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("Write =\n% x\nwant\n% x", b, want)
	}
}

func TestTensorOffsetsAligned(t *testing.T) {
	for _, align := range []uint32{32, 64} {
		f := small()
		f.KV = append(f.KV, KV{Key: "general.alignment", Value: align})
		b := encode(t, f)
		got, err := Read(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range got.Tensors {
			// Data aliases the file bytes, so its start is its file offset.
			off := bytes.Index(b, tn.Data)
			if off < 0 || off%int(align) != 0 {
				t.Errorf("alignment %d: tensor %s at offset %d", align, tn.Name, off)
			}
		}
		if len(b)%int(align) != 0 {
			t.Errorf("alignment %d: file size %d not a multiple", align, len(b))
		}
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		f    *File
		want string
	}{
		{"short data", &File{Tensors: []Tensor{{Name: "x", Dims: []uint64{4}, Type: TensorF32, Data: make([]byte, 12)}}}, "12 bytes of data, want 16"},
		{"no dims", &File{Tensors: []Tensor{{Name: "x", Type: TensorF32}}}, "0 dimensions"},
		{"quantized type", &File{Tensors: []Tensor{{Name: "x", Dims: []uint64{32}, Type: 2}}}, "unsupported type"},
		{"value type", &File{KV: []KV{{Key: "m", Value: map[string]int{}}}}, `metadata "m": unsupported value type`},
		{"int is ambiguous", &File{KV: []KV{{Key: "n", Value: 3}}}, "unsupported value type int"},
		{"alignment type", &File{KV: []KV{{Key: "general.alignment", Value: 32}}}, "general.alignment is int"},
		{"alignment value", &File{KV: []KV{{Key: "general.alignment", Value: uint32(12)}}}, "not a positive multiple of 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, tt.f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Write error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	good := encode(t, small())
	le := binary.LittleEndian
	patched := func(off int, v uint64) []byte {
		b := bytes.Clone(good)
		le.PutUint64(b[off:], v)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "unexpected end of file"},
		{"magic", append([]byte("GGUG"), good[4:]...), `magic "GGUG"`},
		{"version", append(append([]byte("GGUF"), 2, 0, 0, 0), good[8:]...), "version 2"},
		{"truncated metadata", good[:40], "unexpected end of file"},
		{"truncated data", good[:len(good)-40], "ends past the data"},
		{"huge count", patched(8, 1<<40), "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Read error = %v, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("Read error %v does not wrap ErrFormat", err)
			}
		})
	}
}

func TestFloat16(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{0.5, 0x3800},
		{0.1, 0x2e66},             // rounds down
		{1.0 / 3, 0x3555},         // rounds down
		{65504, 0x7bff},           // largest finite half
		{65520, 0x7c00},           // rounds up to +Inf
		{1e6, 0x7c00},             // overflow
		{6.103515625e-05, 0x0400}, // smallest normal half
		{5.9604645e-08, 0x0001},   // smallest subnormal half
		{2.9802322e-08, 0x0000},   // half of it: tie to even, 0
		{4.4703484e-08, 0x0001},   // 0.75 of it: up
		{1e-10, 0x0000},
		{1 + 1.0/2048, 0x3c00}, // tie between 0x3c00 and 0x3c01: even
		{1 + 3.0/2048, 0x3c02}, // tie between 0x3c01 and 0x3c02: even
		{float32(math.Inf(-1)), 0xfc00},
	}
	for _, tt := range tests {
		if got := Float16(tt.in); got != tt.want {
			t.Errorf("Float16(%g) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
	if got := Float16(float32(math.NaN())); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
		t.Errorf("Float16(NaN) = %#04x, not a NaN", got)
	}
}

// TestFloat16RoundTrip checks every half value: converting to float32 and
// back gives the same bits.
func TestFloat16RoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		h := uint16(h)
		f := Float16To32(h)
		if f != f { // NaN payloads need not survive
			continue
		}
		if got := Float16(f); got != h {
			t.Fatalf("Float16(Float16To32(%#04x) = %g) = %#04x", h, f, got)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	values := make([]float32, 1<<16)
	for i := range values {
		values[i] = float32(i) / 1000
	}
	f := &File{Tensors: []Tensor{{Name: "w", Dims: []uint64{256, 256}, Type: TensorF16, Data: F16Data(values)}}}
	b.SetBytes(int64(len(f.Tensors[0].Data)))
	for b.Loop() {
		if err := Write(&bytes.Buffer{}, f); err != nil {
			b.Fatal(err)
		}
	}
}
