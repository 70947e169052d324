package integration

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Security bad input end to end: each must fail create with an error that
// names the problem and leave no state, cgroup or process behind (see
// createMustFail). The wording is checked for gocker only.

func TestBadSecurityInput(t *testing.T) {
	userNS := func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}
	cases := []struct {
		name string
		mod  func(*specs.Spec)
		want string // in gocker's error
		runc string // non-empty: runc 1.1 accepts this, why
	}{
		{"seccomp-only-unknown-syscalls", func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"gocker_no_such_call", "gocker_nor_this"}, Action: specs.ActErrno}}}
		}, "no known syscall", "runc 1.1 skips every unknown name, leaving an empty rule"},
		{"seccomp-unknown-action", func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir"}, Action: "SCMP_ACT_GOCKER"}}}
		}, `unknown action "SCMP_ACT_GOCKER"`, ""},
		{"seccomp-unknown-default-action", func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_GOCKER"}
		}, "defaultAction", ""},
		{"seccomp-unknown-arch", func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_GOCKER"}}
		}, `unknown architecture "SCMP_ARCH_GOCKER"`, ""},
		{"seccomp-unknown-operator", func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_GOCKER"}}}}}
		}, `unknown operator "SCMP_CMP_GOCKER"`, ""},
		{"overlapping-uid-mappings", func(s *specs.Spec) {
			userNS(s)
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 500, HostID: 200000, Size: 10}}
		}, "overlaps", ""},
		{"overlapping-host-ids", func(s *specs.Spec) {
			userNS(s)
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 5000, HostID: 100500, Size: 10}}
		}, "overlaps", ""},
		{"mappings-without-userns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, "user namespace", "runc 1.1 ignores mappings without a user namespace"},
		{"unknown-capability", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_GOCKER")
		}, "CAP_GOCKER", "runc 1.1 warns and ignores unknown capabilities"},
		{"unknown-ambient-capability", func(s *specs.Spec) {
			s.Process.Capabilities.Ambient = []string{"CAP_GOCKER_AMBIENT"}
		}, "CAP_GOCKER_AMBIENT", "runc 1.1 warns and ignores unknown capabilities"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.runc != "" && !isGocker() {
				gockerOnly(t, c.runc)
			}
			e := newEnv(t)
			id := e.id("badsec")
			r := e.createMustFail(id, id, e.bundle(id, c.mod))
			if isGocker() {
				e.wantErrText(r, c.want)
			}
		})
	}
}

// TestSeccompUnknownSyscallSkipped: a rule with one unknown name among
// known ones is applied, with a warning, as runc does.
func TestSeccompUnknownSyscallSkipped(t *testing.T) {
	e := newEnv(t)
	id := e.id("unknownsys")
	b := e.bundle(id, chain(sh("mkdir /dev/shm/x 2>&1; echo rc=$?"), func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"gocker_no_such_call", "mkdir", "mkdirat"}, Action: specs.ActErrno}}}
	}))
	r := e.rt("run", "--bundle", b, id)
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	if !strings.Contains(r.stdout, "rc=1") || !strings.Contains(r.stdout, "ermitted") {
		t.Errorf("mkdir should fail with EPERM from the known names of the rule: %q", r.stdout)
	}
	if isGocker() && !strings.Contains(r.errText(), "gocker_no_such_call") {
		t.Errorf("gocker should warn about the unknown syscall: %s", r)
	}
}
