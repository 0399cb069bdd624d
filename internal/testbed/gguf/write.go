package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Write encodes f as a GGUF version 3 file. Tensors are laid out in order,
// each at the next multiple of the alignment; the output depends only on f,
// so equal files encode to equal bytes.
func Write(w io.Writer, f *File) error {
	align, err := f.Alignment()
	if err != nil {
		return err
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Type.ElementSize() == 0 {
			return fmt.Errorf("tensor %q: unsupported type %v", t.Name, t.Type)
		}
		if len(t.Dims) == 0 || len(t.Dims) > 4 {
			return fmt.Errorf("tensor %q: %d dimensions, want 1 to 4", t.Name, len(t.Dims))
		}
		if want := t.Elements() * uint64(t.Type.ElementSize()); uint64(len(t.Data)) != want {
			return fmt.Errorf("tensor %q: %d bytes of data, want %d", t.Name, len(t.Data), want)
		}
	}

	e := &encoder{w: bufio.NewWriter(w)}
	e.raw([]byte(Magic))
	e.u32(Version)
	e.u64(uint64(len(f.Tensors)))
	e.u64(uint64(len(f.KV)))
	for _, kv := range f.KV {
		e.str(kv.Key)
		if err := e.value(kv.Value); err != nil {
			return fmt.Errorf("metadata %q: %w", kv.Key, err)
		}
	}
	var offset int64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(uint64(offset))
		offset += int64(len(t.Data))
		offset += padding(offset, align)
	}
	e.pad(align)
	for i := range f.Tensors {
		e.raw(f.Tensors[i].Data)
		e.pad(align)
	}
	if e.err != nil {
		return e.err
	}
	return e.w.Flush()
}

// encoder writes little-endian values and remembers the first error and the
// number of bytes written, which the padding needs.
type encoder struct {
	w   *bufio.Writer
	n   int64
	err error
	buf [8]byte
}

func (e *encoder) raw(p []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(p)
	e.n += int64(n)
	e.err = err
}

func (e *encoder) pad(align int) {
	for range padding(e.n, align) {
		e.raw([]byte{0})
	}
}

func (e *encoder) u8(v uint8) { e.raw([]byte{v}) }

func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:2], v)
	e.raw(e.buf[:2])
}

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:4], v)
	e.raw(e.buf[:4])
}

func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:8], v)
	e.raw(e.buf[:8])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
}

// value writes the type code and the value.
func (e *encoder) value(v any) error {
	if t, ok := scalarType(v); ok {
		e.u32(uint32(t))
		e.scalar(v)
		return nil
	}
	var (
		elem  ValueType
		items []any
	)
	switch s := v.(type) {
	case []string:
		elem, items = TypeString, toAny(s)
	case []uint8:
		elem, items = TypeUint8, toAny(s)
	case []int8:
		elem, items = TypeInt8, toAny(s)
	case []uint16:
		elem, items = TypeUint16, toAny(s)
	case []int16:
		elem, items = TypeInt16, toAny(s)
	case []uint32:
		elem, items = TypeUint32, toAny(s)
	case []int32:
		elem, items = TypeInt32, toAny(s)
	case []uint64:
		elem, items = TypeUint64, toAny(s)
	case []int64:
		elem, items = TypeInt64, toAny(s)
	case []float32:
		elem, items = TypeFloat32, toAny(s)
	case []float64:
		elem, items = TypeFloat64, toAny(s)
	case []bool:
		elem, items = TypeBool, toAny(s)
	default:
		return fmt.Errorf("unsupported value type %T", v)
	}
	e.u32(uint32(TypeArray))
	e.u32(uint32(elem))
	e.u64(uint64(len(items)))
	for _, it := range items {
		e.scalar(it)
	}
	return nil
}

func toAny[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func scalarType(v any) (ValueType, bool) {
	switch v.(type) {
	case uint8:
		return TypeUint8, true
	case int8:
		return TypeInt8, true
	case uint16:
		return TypeUint16, true
	case int16:
		return TypeInt16, true
	case uint32:
		return TypeUint32, true
	case int32:
		return TypeInt32, true
	case uint64:
		return TypeUint64, true
	case int64:
		return TypeInt64, true
	case float32:
		return TypeFloat32, true
	case float64:
		return TypeFloat64, true
	case bool:
		return TypeBool, true
	case string:
		return TypeString, true
	}
	return 0, false
}

// scalar writes a value whose type scalarType accepts, without a type code.
func (e *encoder) scalar(v any) {
	switch v := v.(type) {
	case uint8:
		e.u8(v)
	case int8:
		e.u8(uint8(v))
	case uint16:
		e.u16(v)
	case int16:
		e.u16(uint16(v))
	case uint32:
		e.u32(v)
	case int32:
		e.u32(uint32(v))
	case uint64:
		e.u64(v)
	case int64:
		e.u64(uint64(v))
	case float32:
		e.u32(math.Float32bits(v))
	case float64:
		e.u64(math.Float64bits(v))
	case bool:
		if v {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		e.str(v)
	}
}
