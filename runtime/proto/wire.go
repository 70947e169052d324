package proto

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
)

// Messages between gocker and gocker-init are one binary encoding of Msg,
// not JSON. Both ends are the same build (CheckBuild), so the encoding is
// private and follows the Go types: every exported field in declaration
// order, without names. It exists for speed: the bootstrap carries the
// whole spec, and encoding/json builds its per-type codecs by reflection
// in every new process. Traced on one `run` of /bin/true: decoding the
// bootstrap took the init 0.9 ms of CPU before it could start on the
// rootfs, and encoding it 0.5 ms of the parent's; this walk takes tens of
// microseconds for either.
//
// A message starts with wireMagic; anything else is JSON, which is what
// the nsenter C constructor sends when it fails before Go starts.
//
// The result decodes to what a JSON round trip would give: fields that
// JSON skips (unexported, `json:"-"`) are skipped, and an empty slice or
// map in an omitempty field arrives as nil. An interface value (the spec
// has one, in windows.credentialSpec) goes as JSON.
const wireMagic = 0xB1

// appendWire encodes m.
func appendWire(buf []byte, m *Msg) ([]byte, error) {
	e := encoder{buf: append(buf, wireMagic)}
	if err := e.value(reflect.ValueOf(m).Elem(), false); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// decodeMsg decodes one datagram, binary or JSON.
func decodeMsg(b []byte, m *Msg) error {
	if len(b) == 0 || b[0] != wireMagic {
		return json.Unmarshal(b, m)
	}
	d := decoder{buf: b[1:]}
	if err := d.value(reflect.ValueOf(m).Elem()); err != nil {
		return err
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("%d bytes after the message", len(d.buf))
	}
	return nil
}

// wireField is one field that goes on the wire.
type wireField struct {
	index     int
	omitEmpty bool
}

var fieldCache sync.Map // reflect.Type -> []wireField

func fieldsOf(t reflect.Type) []wireField {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]wireField)
	}
	var fs []wireField
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		fs = append(fs, wireField{index: i, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
	}
	fieldCache.Store(t, fs)
	return fs
}

type encoder struct{ buf []byte }

func (e *encoder) uint(u uint64) { e.buf = binary.AppendUvarint(e.buf, u) }

// value appends v; omitEmpty sends an empty slice or map as nil.
func (e *encoder) value(v reflect.Value, omitEmpty bool) error {
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			e.uint(1)
		} else {
			e.uint(0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = binary.AppendVarint(e.buf, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uint(v.Uint())
	case reflect.Float32, reflect.Float64:
		e.uint(math.Float64bits(v.Float()))
	case reflect.String:
		e.uint(uint64(v.Len()))
		e.buf = append(e.buf, v.String()...)
	case reflect.Slice:
		// 0 is nil; n+1 is a slice of n elements.
		if v.IsNil() || omitEmpty && v.Len() == 0 {
			e.uint(0)
			return nil
		}
		e.uint(uint64(v.Len()) + 1)
		if v.Type().Elem().Kind() == reflect.Uint8 {
			e.buf = append(e.buf, v.Bytes()...)
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			if err := e.value(v.Index(i), false); err != nil {
				return err
			}
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := e.value(v.Index(i), false); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.IsNil() || omitEmpty && v.Len() == 0 {
			e.uint(0)
			return nil
		}
		e.uint(uint64(v.Len()) + 1)
		it := v.MapRange()
		for it.Next() {
			if err := e.value(it.Key(), false); err != nil {
				return err
			}
			if err := e.value(it.Value(), false); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			e.uint(0)
			return nil
		}
		e.uint(1)
		return e.value(v.Elem(), false)
	case reflect.Struct:
		for _, f := range fieldsOf(v.Type()) {
			if err := e.value(v.Field(f.index), f.omitEmpty); err != nil {
				return err
			}
		}
	case reflect.Interface:
		if v.IsNil() {
			e.uint(0)
			return nil
		}
		b, err := json.Marshal(v.Interface())
		if err != nil {
			return err
		}
		e.uint(uint64(len(b)) + 1)
		e.buf = append(e.buf, b...)
	default:
		return fmt.Errorf("proto: cannot encode a %s", v.Type())
	}
	return nil
}

type decoder struct{ buf []byte }

var errShort = errors.New("proto: message ends early")

func (d *decoder) uint() (uint64, error) {
	u, n := binary.Uvarint(d.buf)
	if n <= 0 {
		return 0, errShort
	}
	d.buf = d.buf[n:]
	return u, nil
}

// length reads a count of things that take at least a byte each, so a
// corrupt count cannot make a huge allocation.
func (d *decoder) length() (int, error) {
	u, err := d.uint()
	if err != nil {
		return 0, err
	}
	if u > uint64(len(d.buf))+1 {
		return 0, errShort
	}
	return int(u), nil
}

func (d *decoder) bytes(n int) ([]byte, error) {
	if n > len(d.buf) {
		return nil, errShort
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b, nil
}

func (d *decoder) value(v reflect.Value) error {
	switch v.Kind() {
	case reflect.Bool:
		u, err := d.uint()
		v.SetBool(u != 0)
		return err
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, n := binary.Varint(d.buf)
		if n <= 0 {
			return errShort
		}
		d.buf = d.buf[n:]
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u, err := d.uint()
		v.SetUint(u)
		return err
	case reflect.Float32, reflect.Float64:
		u, err := d.uint()
		v.SetFloat(math.Float64frombits(u))
		return err
	case reflect.String:
		n, err := d.length()
		if err != nil {
			return err
		}
		b, err := d.bytes(n)
		if err != nil {
			return err
		}
		v.SetString(string(b))
	case reflect.Slice:
		n, err := d.length()
		if err != nil || n == 0 {
			return err
		}
		n--
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b, err := d.bytes(n)
			if err != nil {
				return err
			}
			v.SetBytes(append(make([]byte, 0, n), b...))
			return nil
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			if err := d.value(s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := d.value(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		n, err := d.length()
		if err != nil || n == 0 {
			return err
		}
		n--
		t := v.Type()
		m := reflect.MakeMapWithSize(t, n)
		for i := 0; i < n; i++ {
			k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
			if err := d.value(k); err != nil {
				return err
			}
			if err := d.value(e); err != nil {
				return err
			}
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Pointer:
		u, err := d.uint()
		if err != nil || u == 0 {
			return err
		}
		p := reflect.New(v.Type().Elem())
		if err := d.value(p.Elem()); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Struct:
		for _, f := range fieldsOf(v.Type()) {
			if err := d.value(v.Field(f.index)); err != nil {
				return err
			}
		}
	case reflect.Interface:
		n, err := d.length()
		if err != nil || n == 0 {
			return err
		}
		b, err := d.bytes(n - 1)
		if err != nil {
			return err
		}
		var x any
		if err := json.Unmarshal(b, &x); err != nil {
			return err
		}
		v.Set(reflect.ValueOf(&x).Elem())
	default:
		return fmt.Errorf("proto: cannot decode a %s", v.Type())
	}
	return nil
}
