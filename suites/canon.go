package suites

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/evalpin/evalpin/eval/score"
	"github.com/evalpin/evalpin/internal/canonjson"
)

// appendCanonical appends the canonical JSON of v: object keys sorted (by
// their UTF-8 bytes), no insignificant white space, strings escaped only where
// JSON requires it ('"', '\\' and control characters) with invalid UTF-8
// replaced by U+FFFD, and numbers as JavaScript prints them (RFC 8785 style),
// so 1.50, 1.5 and 15e-1 encode alike. v is a decoded JSON value (maps with
// string keys, []any, strings, numbers, booleans and nil) or a Go value made
// of structs, pointers, slices, maps with string keys and those: it writes
// what encoding/json would encode, decoded generically and encoded again,
// without the cost of that. Structs are encoded by their fields' json tags,
// honouring omitempty; other tag options and embedded structs are not
// supported (a panic says so).
func appendCanonical(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, v)
	case bool:
		return strconv.AppendBool(b, v)
	case float64:
		return appendFloat(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return appendString(b, string(v))
		}
		return appendFloat(b, f)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendCanonical(b, v[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, e)
		}
		return append(b, ']')
	case score.KindScorer:
		// A scorer is its kind, its name (given or defaulted, so "name:
		// contains" changes nothing) and its parameters as it encodes them.
		extra := [...]member{{"kind", v.Kind()}, {"name", v.Name()}}
		return appendStruct(b, reflect.ValueOf(v).Elem(), extra[:])
	}
	return appendValue(b, reflect.ValueOf(v))
}

// appendValue appends the canonical JSON of v; see appendCanonical.
func appendValue(b []byte, v reflect.Value) []byte {
	switch v.Kind() {
	case reflect.Invalid:
		return append(b, "null"...)
	case reflect.Interface:
		if v.IsNil() {
			return append(b, "null"...)
		}
		return appendCanonical(b, v.Elem().Interface())
	case reflect.Pointer:
		if v.IsNil() {
			return append(b, "null"...)
		}
		return appendValue(b, v.Elem())
	case reflect.Struct:
		return appendStruct(b, v, nil)
	case reflect.Slice:
		if v.IsNil() {
			return append(b, "null"...)
		}
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, v.Index(i))
		}
		return append(b, ']')
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			break
		}
		if v.IsNil() {
			return append(b, "null"...)
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k.String())
			b = append(b, ':')
			b = appendValue(b, v.MapIndex(k))
		}
		return append(b, '}')
	case reflect.String:
		if v.Type() == jsonNumber {
			return appendCanonical(b, json.Number(v.String()))
		}
		return appendString(b, v.String())
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(b, v.Uint(), 10)
	case reflect.Float64:
		return appendFloat(b, v.Float())
	}
	panic(fmt.Sprintf("suites: no canonical JSON for %s", v.Type()))
}

var jsonNumber = reflect.TypeFor[json.Number]()

// A member is an object member appendStruct adds to a struct's fields, or
// puts in place of the field with its name.
type member struct{ key, value string }

// appendStruct appends the canonical JSON of the struct v, with the members of
// extra (sorted by key) among its fields.
func appendStruct(b []byte, v reflect.Value, extra []member) []byte {
	b = append(b, '{')
	start := len(b)
	sep := func(b []byte) []byte {
		if len(b) > start {
			b = append(b, ',')
		}
		return b
	}
fields:
	for _, f := range structFields(v.Type()) {
		for len(extra) > 0 && extra[0].key <= f.key {
			m := extra[0]
			extra = extra[1:]
			b = appendString(sep(b), m.key)
			b = appendString(append(b, ':'), m.value)
			if m.key == f.key {
				continue fields // m replaces f
			}
		}
		if fv := v.Field(f.index); !f.omitEmpty || !isEmptyValue(fv) {
			b = appendValue(append(sep(b), f.prefix...), fv)
		}
	}
	for _, m := range extra {
		b = appendString(sep(b), m.key)
		b = appendString(append(b, ':'), m.value)
	}
	return append(b, '}')
}

// A field is how a struct field is encoded.
type field struct {
	key       string // its JSON name
	prefix    []byte // its key as JSON and a colon
	index     int
	omitEmpty bool
}

// structFieldsCache maps a struct type to its encoded fields, sorted by key.
var structFieldsCache sync.Map // reflect.Type → []field

// structFields returns how t's fields are encoded, sorted by their keys.
func structFields(t reflect.Type) []field {
	if fs, ok := structFieldsCache.Load(t); ok {
		return fs.([]field)
	}
	var fields []field
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if !sf.IsExported() || tag == "-" {
			continue
		}
		if sf.Anonymous {
			panic(fmt.Sprintf("suites: no canonical JSON for %s: embedded field %s", t, sf.Name))
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		if opts != "" && opts != "omitempty" {
			panic(fmt.Sprintf("suites: no canonical JSON for %s: field %s has option %q", t, sf.Name, opts))
		}
		fields = append(fields, field{key: name, prefix: append(appendString(nil, name), ':'), index: i, omitEmpty: opts == "omitempty"})
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.key, b.key) })
	fs, _ := structFieldsCache.LoadOrStore(t, fields)
	return fs.([]field)
}

// isEmptyValue reports whether encoding/json leaves v out of an object as an
// empty value of an omitempty field: a float is empty where it is 0 or -0.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// appendFloat appends f as JavaScript's Number.prototype.toString does (as
// encoding/json does for float64).
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		panic("suites: a non-finite number in canonical JSON") // build rejects them
	}
	if f == 0 {
		return append(b, '0') // and -0
	}
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 → 1e-7
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendString appends s as a canonical JSON string, invalid UTF-8 replaced
// by U+FFFD first.
func appendString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return canonjson.AppendString(b, s)
}
