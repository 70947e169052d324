package spec

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	good := map[string]unix.Signal{
		"9": unix.SIGKILL, "15": unix.SIGTERM, "1": unix.SIGHUP, "64": 64,
		"KILL": unix.SIGKILL, "SIGKILL": unix.SIGKILL, "kill": unix.SIGKILL, "sigkill": unix.SIGKILL,
		"SigTerm": unix.SIGTERM, "TERM": unix.SIGTERM, "hup": unix.SIGHUP, "WINCH": unix.SIGWINCH,
		"SIGUSR1": unix.SIGUSR1, "STOP": unix.SIGSTOP, "SIGCONT": unix.SIGCONT, "SYS": unix.SIGSYS,
		"IOT": unix.SIGABRT, "SIGPOLL": unix.SIGIO, "cld": unix.SIGCHLD,
		// glibc's SIGRTMIN is 34: systemd's "halt" is SIGRTMIN+3 = 37.
		"SIGRTMIN": 34, "SIGRTMIN+3": 37, "rtmin+3": 37, "RTMIN+0": 34, "SIGRTMIN+30": 64,
		"SIGRTMAX": 64, "SIGRTMAX-1": 63, "rtmax-30": 34,
	}
	for in, want := range good {
		got, err := ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := []string{"FOO", "", "0", "-1", "65", "99999999999999999999", "SIG", "SIGRTMIN+31", "SIGRTMIN-1",
		"SIGRTMAX+1", "SIGRTMAX-31", "SIGRTMIN+", "SIGRTMIN+x", "SIGRTMIN++1", "SIGRTMIN+-1", "KILL9", "9x", "SIGSIGKILL"}
	for _, in := range bad {
		got, err := ParseSignal(in)
		if err == nil {
			t.Errorf("ParseSignal(%q) = %d, want error", in, got)
			continue
		}
		if want := `invalid signal "` + in + `"`; err.Error() != want {
			t.Errorf("ParseSignal(%q) error %q, want %q", in, err, want)
		}
	}
}

func TestNamespaceHelpers(t *testing.T) {
	s := Default()
	s.Linux.Namespaces[1].Path = "/var/run/netns/gocker-test"
	if !HasNamespace(s, specs.PIDNamespace) || !HasNamespace(s, specs.NetworkNamespace) {
		t.Error("pid/network not found")
	}
	if HasNamespace(s, specs.UserNamespace) || HasNamespace(s, specs.CgroupNamespace) {
		t.Error("user/cgroup found but absent")
	}
	if got := NamespacePath(s, specs.NetworkNamespace); got != "/var/run/netns/gocker-test" {
		t.Errorf("network path %q", got)
	}
	if got := NamespacePath(s, specs.PIDNamespace); got != "" {
		t.Errorf("pid path %q", got)
	}
	if got := NamespacePath(s, specs.TimeNamespace); got != "" {
		t.Errorf("absent ns path %q", got)
	}
	s.Linux = nil
	if HasNamespace(s, specs.PIDNamespace) || NamespacePath(s, specs.PIDNamespace) != "" {
		t.Error("nil linux")
	}
}

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "mycontainer", "0", "abc-DEF_123", "a.b", "..a", "a..", "x+y", "-leading",
		strings.Repeat("f", 64), strings.Repeat("x", MaxIDLength)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}
	tests := []struct{ id, want string }{
		{"", "container id must not be empty"},
		{".", `invalid container id ".": must not be "."`},
		{"..", `invalid container id "..": must not be ".."`},
		{"a/b", `invalid container id "a/b": "/" at byte 1 (allowed: letters, digits, _ + - .)`},
		{"../etc", `invalid container id "../etc": "/" at byte 2`},
		{"a b", `invalid container id "a b": space U+0020 at byte 1`},
		{"a\nb", `invalid container id "a\nb": control character U+000A at byte 1`},
		{"a\x00", `invalid container id "a\x00": control character U+0000 at byte 1`},
		{"a,b", `invalid container id "a,b": character ',' at byte 1`},
		{"a:b", `invalid container id "a:b": character ':' at byte 1`},
		{"caf\u00e9", `invalid container id "café": character 'é' at byte 3`},
		{"a\xffb", `invalid container id "a\xffb": invalid UTF-8 at byte 1`},
		{strings.Repeat("x", MaxIDLength+1), `invalid container id "xxxxxxxxxxxxxxxxxxxx"...: 201 bytes long, at most 200 allowed`},
	}
	for _, tt := range tests {
		err := ValidateID(tt.id)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidateID(%q) = %v, want %q", tt.id, err, tt.want)
		}
	}
}
