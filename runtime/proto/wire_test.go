package proto

import (
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gocker/gocker/runtime/seccomp"
)

// fill gives every field reachable from v a non-zero value: two elements
// per slice and map, every pointer set.
func fill(v reflect.Value, n *int, depth int) {
	*n++
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(uint64(*n%200 + 1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) / 4)
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)) + "é")
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fill(s.Index(i), n, depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 2; i++ {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, n, depth+1)
			fill(e, n, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n, depth+1)
		v.Set(p)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n, depth+1)
			}
		}
	case reflect.Interface:
		v.Set(reflect.ValueOf(map[string]any{"k": "v", "n": 1.5}))
	}
}

func viaJSON(t *testing.T, m *Msg) *Msg {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out Msg
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func viaWire(t *testing.T, m *Msg) (*Msg, []byte) {
	t.Helper()
	b, err := appendWire(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	var out Msg
	if err := decodeMsg(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out, b
}

// TestWireLikeJSON: every field of a message, the whole spec included,
// arrives as a JSON round trip would deliver it.
func TestWireLikeJSON(t *testing.T) {
	var m Msg
	n := 0
	fill(reflect.ValueOf(&m).Elem(), &n, 0)
	// The bootstrap's state is specs.State; a status is a string type.
	got, b := viaWire(t, &m)
	want := viaJSON(t, &m)
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Fatalf("wire and JSON round trips differ:\nwire %s\njson %s", gj, wj)
	}
	if n < 300 {
		t.Errorf("only %d values filled; the fill missed most of the spec", n)
	}
	jb, _ := json.Marshal(&m)
	t.Logf("%d values: wire %d bytes, JSON %d bytes", n, len(b), len(jb))
}

// TestWireEmptyAsJSON: empty slices and maps keep JSON's meaning: nil in
// an omitempty field, empty elsewhere.
func TestWireEmptyAsJSON(t *testing.T) {
	m := &Msg{Type: TypeBootstrap, Bootstrap: &Bootstrap{
		CgroupPaths: map[string]string{},
		Spec: &specs.Spec{
			Process: &specs.Process{Args: []string{}, Env: nil, Capabilities: &specs.LinuxCapabilities{Bounding: []string{}}},
			Linux:   &specs.Linux{MaskedPaths: []string{}, Namespaces: []specs.LinuxNamespace{}},
			Mounts:  []specs.Mount{{Options: []string{}}},
		},
		Seccomp: &seccomp.Wire{Prog: []byte{}},
	}}
	got, _ := viaWire(t, m)
	if want := viaJSON(t, m); !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		t.Fatalf("wire %#v differs from JSON's %#v (%s)", got.Bootstrap.Spec, want.Bootstrap.Spec, gj)
	}
}

// TestWireTruncated: every prefix of a message is an error, not a panic
// or a half-filled message taken as whole.
func TestWireTruncated(t *testing.T) {
	var m Msg
	n := 0
	fill(reflect.ValueOf(&m).Elem(), &n, 0)
	b, err := appendWire(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(b); i++ {
		var out Msg
		if err := decodeMsg(b[:i], &out); err == nil {
			t.Fatalf("a %d-byte prefix of %d decoded without error", i, len(b))
		}
	}
	var out Msg
	if err := decodeMsg(append(b, 0), &out); err == nil {
		t.Error("a trailing byte was accepted")
	}
}

// TestWireJSONFromC: the nsenter constructor's JSON error still decodes.
func TestWireJSONFromC(t *testing.T) {
	var m Msg
	if err := decodeMsg([]byte(`{"type":"error","msg":"nsenter: setns user: EPERM"}`), &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeError || m.Msg != "nsenter: setns user: EPERM" {
		t.Errorf("got %+v", m)
	}
}

func BenchmarkBootstrapWire(b *testing.B) {
	var m Msg
	n := 0
	fill(reflect.ValueOf(&m).Elem(), &n, 0)
	for i := 0; i < b.N; i++ {
		buf, _ := appendWire(nil, &m)
		var out Msg
		if err := decodeMsg(buf, &out); err != nil {
			b.Fatal(err)
		}
	}
}
