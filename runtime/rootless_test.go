package runtime

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	gspec "github.com/gocker/gocker/spec"
)

func rootlessSpec(uid, gid uint32) *specs.Spec {
	s := gspec.Default()
	gspec.MakeRootless(s, uid, gid)
	return s
}

func TestCheckRootlessAcceptsRootlessSpec(t *testing.T) {
	if err := checkRootlessAs(rootlessSpec(1000, 1001), 1000, 1001); err != nil {
		t.Fatalf("spec --rootless for uid 1000 refused: %v", err)
	}
}

func TestCheckRootlessRefuses(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*specs.Spec)
		want string
	}{
		{"spec of another user", func(s *specs.Spec) {
			s.Linux.UIDMappings[0].HostID = 2000
		}, "linux.uidMappings [0:2000:1] maps host uids other than your own uid 1000"},
		{"range of ids", func(s *specs.Spec) {
			s.Linux.GIDMappings[0].Size = 65536
		}, "linux.gidMappings [0:1001:65536]"},
		{"second mapping", func(s *specs.Spec) {
			s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 1, HostID: 100000, Size: 10})
		}, "linux.uidMappings [0:1000:1 1:100000:10]"},
		{"no mapping", func(s *specs.Spec) {
			s.Linux.UIDMappings = nil
		}, "linux.uidMappings is empty"},
		{"no user namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = s.Linux.Namespaces[:len(s.Linux.Namespaces)-1]
		}, "no user namespace"},
		{"unmapped process uid", func(s *specs.Spec) {
			s.Process.User.UID = 1
		}, "process.user.uid 1 is not mapped"},
		{"unmapped process gid", func(s *specs.Spec) {
			s.Process.User.GID = 5
		}, "process.user.gid 5 is not mapped"},
		{"additional gids", func(s *specs.Spec) {
			s.Process.User.AdditionalGids = []uint32{0}
		}, "cannot set additional groups"},
		{"unmapped mount gid", func(s *specs.Spec) {
			s.Mounts[2].Options = append(s.Mounts[2].Options, "gid=5")
		}, "mount /dev/pts: option gid=5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := rootlessSpec(1000, 1001)
			c.mod(s)
			err := checkRootlessAs(s, 1000, 1001)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "rootless: ") {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// A joined user namespace (e.g. one made by rootlesskit) carries its own
// mappings; only the groups rule applies.
func TestCheckRootlessJoinedUserNS(t *testing.T) {
	s := rootlessSpec(1000, 1001)
	last := len(s.Linux.Namespaces) - 1
	s.Linux.Namespaces[last].Path = "/proc/1234/ns/user"
	s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
	if err := checkRootlessAs(s, 1000, 1001); err != nil {
		t.Fatalf("joined user namespace refused: %v", err)
	}
}

func TestDefaultRoot(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	got, err := DefaultRoot()
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultRootDir
	if unprivileged() || RunningInUserNS() {
		want = "/run/user/1000/gocker"
	}
	if got != want {
		t.Errorf("DefaultRoot() = %q, want %q", got, want)
	}
}

func TestUseRootless(t *testing.T) {
	for flag, want := range map[string]bool{"true": true, "false": false, "auto": unprivileged() || RunningInUserNS()} {
		got, err := UseRootless(flag)
		if err != nil || got != want {
			t.Errorf("UseRootless(%q) = %v, %v; want %v", flag, got, err, want)
		}
	}
	if _, err := UseRootless("yes"); err == nil || !strings.Contains(err.Error(), "true, false or auto") {
		t.Errorf("UseRootless(yes): %v", err)
	}
}
