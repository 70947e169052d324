package seccomp

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// wireFilter compiles a profile with every part a Filter carries: flags,
// a listener, a notify rule, an argument check and an unknown name.
func wireFilter(t *testing.T) *Filter {
	f, err := Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno, ListenerPath: "/run/agent.sock", ListenerMetadata: "meta",
		Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "exit_group", "no_such_syscall"}, Action: specs.ActAllow},
			{Names: []string{"mkdir"}, Action: specs.ActNotify},
			{Names: []string{"openat"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 2, Value: 3, ValueTwo: 1, Op: specs.OpMaskedEqual}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestWireRoundTrip(t *testing.T) {
	f := wireFilter(t)
	data, err := json.Marshal(f.Wire())
	if err != nil {
		t.Fatal(err)
	}
	var w Wire
	if err := json.Unmarshal(data, &w); err != nil {
		t.Fatal(err)
	}
	g, err := w.Filter()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.prog, g.prog) || f.flags != g.flags || f.notify != g.notify ||
		f.ListenerPath != g.ListenerPath || f.ListenerMetadata != g.ListenerMetadata {
		t.Errorf("round trip changed the filter:\n%v\n%v", f, g)
	}
	if (*Filter)(nil).Wire() != nil {
		t.Error("nil filter gives a non-nil wire")
	}
	if _, err := (&Wire{Prog: []byte{1, 2, 3}}).Filter(); err == nil {
		t.Error("malformed program accepted")
	}
}

// TestBinaryRoundTrip: the cache form keeps the whole Filter, warnings
// included, and every truncation or extension of it is refused.
func TestBinaryRoundTrip(t *testing.T) {
	f := wireFilter(t)
	if len(f.Warnings) == 0 {
		t.Fatal("expected a warning for no_such_syscall")
	}
	b := f.AppendBinary(nil)
	g, err := ParseBinary(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, g) {
		t.Errorf("round trip changed the filter:\n%#v\n%#v", f, g)
	}
	for n := 0; n < len(b); n++ {
		if _, err := ParseBinary(b[:n]); err == nil {
			t.Fatalf("a program cut to %d of %d bytes was accepted", n, len(b))
		}
	}
	if _, err := ParseBinary(append(b, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
}
