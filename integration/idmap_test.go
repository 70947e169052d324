package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runc 1.1 predates idmapped mounts (runtime-spec 1.2): it silently
// ignores "idmap" and mounts[].uidMappings/gidMappings and makes a plain
// bind (seen: ids show unmapped, the mount lacks "idmapped").
const noIdmapInRunc = "runc 1.1.5 does not support idmapped mounts: it ignores idmap/ridmap and mounts[].uidMappings and makes a plain bind"

// skipOnRunc skips t on runc 1.1, which lacks the feature (crun 1.8 has it).
func skipOnRunc(t *testing.T, why string) {
	t.Helper()
	if runtimeName == "runc" {
		t.Skipf("not on runc (%s)", why)
	}
}

// idmapSource makes a host directory owned by uid:gid holding a file f of
// the same owner. It is 0755 under a 0755 parent, so that the root of a
// container's user namespace can reach it for a plain bind too.
func idmapSource(t *testing.T, uid, gid int) string {
	t.Helper()
	parent, err := os.MkdirTemp("", "gocker-test-idmap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	dir := filepath.Join(parent, "src")
	f := filepath.Join(dir, "f")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, f} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func hostOwnerOf(t *testing.T, p string) (uint32, uint32) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatalf("stat %s on the host: %v", p, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

func oneMapping(containerID, hostID, size uint32) []specs.LinuxIDMapping {
	return []specs.LinuxIDMapping{{ContainerID: containerID, HostID: hostID, Size: size}}
}

// TestIdmapMappings: a bind with its own mappings in a container without a
// user namespace. Host uid 1000 shows as 0 (mapping 1000 -> 0), a file
// root creates lands on disk as 1000.
func TestIdmapMappings(t *testing.T) {
	skipOnRunc(t, noIdmapInRunc)
	e := newEnv(t)
	src := idmapSource(t, 1000, 1000)
	m := oneMapping(1000, 0, 1)
	lines := e.runLines(`stat -c %u:%g `+mntRW+` `+mntRW+`/f; touch `+mntRW+`/new && echo created; grep " `+mntRW+` " /proc/self/mountinfo`,
		addMount(specs.Mount{Destination: mntRW, Type: "bind", Source: src, Options: []string{"rbind", "idmap"},
			UIDMappings: m, GIDMappings: m}))
	if len(lines) != 4 || lines[0] != "0:0" || lines[1] != "0:0" || lines[2] != "created" {
		t.Fatalf("inside: %q, want 0:0 0:0 created and the mountinfo line", lines)
	}
	if !hasOpt(strings.Fields(lines[3])[5], "idmapped") {
		t.Errorf("%s is not an idmapped mount: %s", mntRW, lines[3])
	}
	if uid, gid := hostOwnerOf(t, filepath.Join(src, "new")); uid != 1000 || gid != 1000 {
		t.Errorf("file created by container root is %d:%d on the host, want 1000:1000", uid, gid)
	}
}

// TestIdmapUserNS: in a container whose root is host uid 100000, an
// idmapped bind with the container's mappings, given or taken from the
// container (runtime-spec config.md "idmap": the runtime MAY use the
// container's user namespace mapping). A root-owned host dir then shows as
// owned by root inside, where a plain bind shows the overflow uid, and
// container root writes files owned by host root. The init cannot idmap
// host filesystems itself: this goes through gocker's parent.
func TestIdmapUserNS(t *testing.T) {
	skipOnRunc(t, noIdmapInRunc)
	maps := oneMapping(0, 100000, 65536)
	for name, m := range map[string]specs.Mount{
		"container-mappings": {Options: []string{"rbind", "idmap"}},
		"given-mappings":     {Options: []string{"bind", "ridmap"}, UIDMappings: maps, GIDMappings: maps},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			src := idmapSource(t, 0, 0)
			m.Destination, m.Type, m.Source = mntRW, "bind", src
			id := e.id("idmap")
			b := e.bundle(id, chain(
				sh(`stat -c %u:%g `+mntRW+`/f `+mntRO+`/f; touch `+mntRW+`/new && echo created; grep " `+mntRW+` " /proc/self/mountinfo`),
				func(s *specs.Spec) {
					s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
					s.Linux.UIDMappings, s.Linux.GIDMappings = maps, maps
					// A cgroup v1 mount in a user namespace is beside the point.
					s.Mounts = s.Mounts[:len(s.Mounts)-1]
				},
				addMount(m),
				addMount(specs.Mount{Destination: mntRO, Type: "bind", Source: src, Options: []string{"rbind", "ro"}}),
			))
			r := e.rt("run", "--bundle", b, id)
			if r.code != 0 || r.err != nil {
				t.Fatalf("run: %s", r)
			}
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			if len(lines) != 4 || lines[0] != "0:0" || lines[1] != "65534:65534" || lines[2] != "created" {
				t.Fatalf("inside: %q, want 0:0 (idmapped) 65534:65534 (plain bind) created and the mountinfo line", lines)
			}
			if !hasOpt(strings.Fields(lines[3])[5], "idmapped") {
				t.Errorf("%s is not an idmapped mount: %s", mntRW, lines[3])
			}
			if uid, gid := hostOwnerOf(t, filepath.Join(src, "new")); uid != 0 || gid != 0 {
				t.Errorf("file created by container root (host uid 100000) is %d:%d on the host, want 0:0", uid, gid)
			}
		})
	}
}

// TestIdmapBadInput: idmap fields that cannot work are refused at create,
// with the field named.
func TestIdmapBadInput(t *testing.T) {
	gockerOnly(t, noIdmapInRunc+"; the messages are gocker's")
	src := idmapSource(t, 0, 0)
	m := oneMapping(0, 100000, 10)
	// defaultMounts has 7 entries: the added mount is mounts[7].
	for _, tt := range []struct {
		name string
		m    specs.Mount
		want string
	}{
		{"tmpfs", specs.Mount{Destination: mntTmpfs, Type: "tmpfs", Source: "tmpfs", UIDMappings: m, GIDMappings: m},
			"mounts[7].uidMappings: only bind mounts can be idmapped"},
		{"uid-only", specs.Mount{Destination: mntRW, Type: "bind", Source: src, Options: []string{"rbind", "idmap"}, UIDMappings: m},
			"mounts[7].uidMappings: must be given together with gidMappings"},
		{"no-userns", specs.Mount{Destination: mntRW, Type: "bind", Source: src, Options: []string{"rbind", "idmap"}},
			`mounts[7].options: "idmap" without uidMappings and gidMappings takes the container's user namespace mappings, but the container has no user namespace`},
		{"sysfs", specs.Mount{Destination: mntRW, Type: "bind", Source: "/sys/kernel", Options: []string{"rbind", "idmap"}, UIDMappings: m, GIDMappings: m},
			"mount /sys/kernel to " + mntRW + ": idmapped mounts are not supported for /sys/kernel (filesystem sysfs)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.id("idmap-bad")
			r := e.fails(e.rt("run", "--bundle", e.bundle(id, addMount(tt.m)), id))
			e.wantErrText(r, tt.want)
		})
	}
}
