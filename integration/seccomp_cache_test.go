package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSeccompRepeatedAndChangedProfile: a profile applies the same on every
// run, and a changed profile applies as changed. gocker keeps compiled
// programs in --root/@seccomp, keyed by the profile's bytes
// (runtime/seccomp_cache.go); this shows a hit gives what a compile gives,
// warnings included, and that other bytes never get an old program.
func TestSeccompRepeatedAndChangedProfile(t *testing.T) {
	e := newEnv(t)
	probe := sh("mkdir /dev/shm/x 2>&1; echo mkdir=$?; rmdir /dev/shm/x 2>&1; echo rmdir=$?")
	deny := func(names ...string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: append([]string{"gocker_no_such_call"}, names...), Action: specs.ActErrno}}}
		}
	}
	runs := []struct {
		name  string
		deny  []string
		wants []string
	}{
		{"first", []string{"mkdir", "mkdirat"}, []string{"mkdir=1", "rmdir=1"}},
		{"again", []string{"mkdir", "mkdirat"}, []string{"mkdir=1", "rmdir=1"}},
		{"changed", []string{"rmdir"}, []string{"mkdir=0", "rmdir=1"}},
	}
	for _, c := range runs {
		id := e.id("sccache-" + c.name)
		r := e.rt("run", "--bundle", e.bundle(id, chain(probe, deny(c.deny...))), id)
		if r.code != 0 {
			t.Fatalf("%s run: %s", c.name, r)
		}
		for _, w := range c.wants {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%s run: want %s in %q", c.name, w, r.stdout)
			}
		}
		if isGocker() && !strings.Contains(r.errText(), "gocker_no_such_call") {
			t.Errorf("%s run: gocker should warn about the unknown syscall every time: %s", c.name, r)
		}
	}
	if !isGocker() {
		return
	}
	ents, err := os.ReadDir(filepath.Join(e.root, "@seccomp"))
	if err != nil || len(ents) != 2 {
		t.Errorf("want 2 cached programs (two distinct profiles), got %d (%v)", len(ents), err)
	}
}
