// Package gguf reads and writes GGUF version 3 files, the model container of
// llama.cpp and Ollama.
//
// A file is a header (magic "GGUF", version, tensor and metadata counts), the
// metadata key-value pairs, one info record per tensor (name, dimensions,
// element type, offset), padding to the alignment, and the tensor data, each
// tensor starting on an aligned offset. All numbers are little-endian.
// Dimensions are listed innermost first, as ggml's ne[0], ne[1], …: a weight
// matrix that maps n inputs to m outputs has Dims {n, m} and stores m rows of
// n values.
//
// The package writes what the test bed's generated models need (scalars,
// strings, arrays of scalars and strings, F32 and F16 tensors) and reads the
// same subset back, so a written file can be checked field by field.
package gguf

import (
	"errors"
	"fmt"
)

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// Version is the GGUF format version this package writes and reads.
const Version = 3

// DefaultAlignment is the tensor data alignment when the metadata has no
// general.alignment key.
const DefaultAlignment = 32

// A ValueType is the type code of a metadata value.
type ValueType uint32

// The metadata value types of the GGUF specification.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

// A TensorType is the ggml element type of a tensor.
type TensorType uint32

// The tensor element types this package handles.
const (
	TensorF32 TensorType = 0
	TensorF16 TensorType = 1
)

// String returns the ggml name of the type.
func (t TensorType) String() string {
	switch t {
	case TensorF32:
		return "F32"
	case TensorF16:
		return "F16"
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// ElementSize returns the size in bytes of one element, or 0 for a type
// this package does not handle.
func (t TensorType) ElementSize() int {
	switch t {
	case TensorF32:
		return 4
	case TensorF16:
		return 2
	}
	return 0
}

// A KV is one metadata key-value pair. Value is one of uint8, int8, uint16,
// int16, uint32, int32, uint64, int64, float32, float64, bool, string, or a
// slice of one of those.
type KV struct {
	Key   string
	Value any
}

// A Tensor is a named array of numbers with its encoded data.
type Tensor struct {
	// Name is the tensor's name, such as "blk.0.attn_q.weight".
	Name string
	// Dims are the dimensions, innermost first.
	Dims []uint64
	// Type is the element type.
	Type TensorType
	// Data holds Elements()*Type.ElementSize() bytes, little-endian.
	Data []byte
}

// Elements returns the number of elements, the product of the dimensions.
func (t *Tensor) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// A File is the content of a GGUF file: ordered metadata and tensors.
type File struct {
	// KV is the metadata in file order.
	KV []KV
	// Tensors are the tensors in file order.
	Tensors []Tensor
}

// Get returns the value of the metadata key and whether it is present.
func (f *File) Get(key string) (any, bool) {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Tensor returns the tensor with the given name, or nil.
func (f *File) Tensor(name string) *Tensor {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i]
		}
	}
	return nil
}

// Alignment returns the tensor data alignment: general.alignment, or
// DefaultAlignment when the key is absent.
func (f *File) Alignment() (int, error) {
	v, ok := f.Get("general.alignment")
	if !ok {
		return DefaultAlignment, nil
	}
	a, ok := v.(uint32)
	if !ok {
		return 0, fmt.Errorf("general.alignment is %T, want uint32", v)
	}
	if a == 0 || a%8 != 0 {
		return 0, fmt.Errorf("general.alignment %d is not a positive multiple of 8", a)
	}
	return int(a), nil
}

// ErrFormat is wrapped by every error about malformed input.
var ErrFormat = errors.New("gguf: malformed file")

func padding(offset int64, align int) int64 {
	a := int64(align)
	return (a - offset%a) % a
}
