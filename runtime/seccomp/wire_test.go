package seccomp

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestWireRoundTrip(t *testing.T) {
	f, err := Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno, ListenerPath: "/run/agent.sock", ListenerMetadata: "meta",
		Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow},
			{Names: []string{"mkdir"}, Action: specs.ActNotify},
			{Names: []string{"openat"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 2, Value: 3, ValueTwo: 1, Op: specs.OpMaskedEqual}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
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
