package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Limits on counts read from a file, so a corrupt header cannot make Read
// allocate without bound.
const (
	maxCount  = 1 << 24
	maxString = 1 << 20
	maxDims   = 4
)

// Read decodes a GGUF version 3 file, including the tensor data. It accepts
// the value and tensor types Write produces and checks that every tensor lies
// within the data section.
func Read(r io.Reader) (*File, error) {
	d := &decoder{r: bufio.NewReader(r)}
	magic := d.raw(4)
	if d.err == nil && string(magic) != Magic {
		return nil, fmt.Errorf("%w: magic %q, want %q", ErrFormat, magic, Magic)
	}
	if v := d.u32(); d.err == nil && v != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrFormat, v, Version)
	}
	nTensors := d.count()
	nKV := d.count()
	if d.err != nil {
		return nil, d.fail("header")
	}
	f := &File{KV: make([]KV, 0, nKV), Tensors: make([]Tensor, 0, nTensors)}
	for range nKV {
		key := d.str()
		t := ValueType(d.u32())
		v := d.value(t)
		if d.err != nil {
			return nil, d.fail(fmt.Sprintf("metadata %q", key))
		}
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}
	offsets := make([]uint64, 0, nTensors)
	for range nTensors {
		var t Tensor
		t.Name = d.str()
		n := d.u32()
		if d.err == nil && (n == 0 || n > maxDims) {
			return nil, fmt.Errorf("%w: tensor %q has %d dimensions", ErrFormat, t.Name, n)
		}
		for range n {
			t.Dims = append(t.Dims, d.u64())
		}
		t.Type = TensorType(d.u32())
		offsets = append(offsets, d.u64())
		if d.err != nil {
			return nil, d.fail(fmt.Sprintf("tensor info %q", t.Name))
		}
		if t.Type.ElementSize() == 0 {
			return nil, fmt.Errorf("%w: tensor %q has unsupported type %v", ErrFormat, t.Name, t.Type)
		}
		f.Tensors = append(f.Tensors, t)
	}
	align, err := f.Alignment()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	d.raw(int(padding(d.n, align)))
	if d.err != nil {
		return nil, d.fail("padding")
	}
	data, err := io.ReadAll(d.r)
	if err != nil {
		return nil, fmt.Errorf("read tensor data: %w", err)
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		off := offsets[i]
		if off%uint64(align) != 0 {
			return nil, fmt.Errorf("%w: tensor %q offset %d is not aligned to %d", ErrFormat, t.Name, off, align)
		}
		size := t.Elements() * uint64(t.Type.ElementSize())
		if off > uint64(len(data)) || size > uint64(len(data))-off {
			return nil, fmt.Errorf("%w: tensor %q (offset %d, %d bytes) ends past the data (%d bytes)", ErrFormat, t.Name, off, size, len(data))
		}
		t.Data = data[off : off+size : off+size]
	}
	return f, nil
}

// decoder reads little-endian values, remembering the first error and the
// offset, which the padding needs.
type decoder struct {
	r   *bufio.Reader
	n   int64
	err error
}

func (d *decoder) fail(what string) error {
	if d.err == io.EOF || d.err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: %s: unexpected end of file", ErrFormat, what)
	}
	return fmt.Errorf("%s: %w", what, d.err)
}

func (d *decoder) raw(n int) []byte {
	if d.err != nil {
		return nil
	}
	b := make([]byte, n)
	m, err := io.ReadFull(d.r, b)
	d.n += int64(m)
	d.err = err
	return b
}

func (d *decoder) u8() uint8 {
	if b := d.raw(1); d.err == nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.raw(2); d.err == nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.raw(4); d.err == nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.raw(8); d.err == nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) count() uint64 {
	n := d.u64()
	if d.err == nil && n > maxCount {
		d.err = fmt.Errorf("%w: count %d exceeds %d", ErrFormat, n, maxCount)
	}
	return n
}

func (d *decoder) str() string {
	n := d.u64()
	if d.err == nil && n > maxString {
		d.err = fmt.Errorf("%w: string length %d exceeds %d", ErrFormat, n, maxString)
	}
	return string(d.raw(int(n)))
}

func (d *decoder) value(t ValueType) any {
	if t != TypeArray {
		return d.scalar(t)
	}
	elem := ValueType(d.u32())
	n := d.count()
	if d.err != nil {
		return nil
	}
	switch elem {
	case TypeString:
		return readSlice[string](d, elem, n)
	case TypeUint8:
		return readSlice[uint8](d, elem, n)
	case TypeInt8:
		return readSlice[int8](d, elem, n)
	case TypeUint16:
		return readSlice[uint16](d, elem, n)
	case TypeInt16:
		return readSlice[int16](d, elem, n)
	case TypeUint32:
		return readSlice[uint32](d, elem, n)
	case TypeInt32:
		return readSlice[int32](d, elem, n)
	case TypeUint64:
		return readSlice[uint64](d, elem, n)
	case TypeInt64:
		return readSlice[int64](d, elem, n)
	case TypeFloat32:
		return readSlice[float32](d, elem, n)
	case TypeFloat64:
		return readSlice[float64](d, elem, n)
	case TypeBool:
		return readSlice[bool](d, elem, n)
	}
	d.err = fmt.Errorf("%w: unsupported array element type %d", ErrFormat, elem)
	return nil
}

func readSlice[T any](d *decoder, elem ValueType, n uint64) []T {
	out := make([]T, 0, min(n, 1<<16))
	for range n {
		v := d.scalar(elem)
		if d.err != nil {
			return nil
		}
		out = append(out, v.(T))
	}
	return out
}

func (d *decoder) scalar(t ValueType) any {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		return int8(d.u8())
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		return int16(d.u16())
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		return int32(d.u32())
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		return int64(d.u64())
	case TypeFloat32:
		return math.Float32frombits(d.u32())
	case TypeFloat64:
		return math.Float64frombits(d.u64())
	case TypeBool:
		return d.u8() != 0
	case TypeString:
		return d.str()
	}
	if d.err == nil {
		d.err = fmt.Errorf("%w: unsupported value type %d", ErrFormat, t)
	}
	return nil
}
