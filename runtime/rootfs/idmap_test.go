package rootfs

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func idmap(containerID, hostID, size uint32) []specs.LinuxIDMapping {
	return []specs.LinuxIDMapping{{ContainerID: containerID, HostID: hostID, Size: size}}
}

// idmapped is a bind of src at dest with the same uid and gid mapping.
func idmapped(dest, src string, m []specs.LinuxIDMapping, opts ...string) specs.Mount {
	return specs.Mount{Destination: dest, Type: "bind", Source: src, Options: opts, UIDMappings: m, GIDMappings: m}
}

// ownedDir makes a temp dir owned by uid:gid holding a file f of the same
// owner.
func ownedDir(t *testing.T, uid, gid int) string {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
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

// sharedOnHost makes dir a shared bind mount of itself on the host for the
// test's duration, like a directory under a shared "/" (systemd's default).
func sharedOnHost(t *testing.T, dir string) {
	t.Helper()
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
}

func hostOwner(t *testing.T, p string) (uint32, uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("stat %s on the host: %v", p, err)
	}
	return st.Uid, st.Gid
}

// TestIDMappedBind: files of host uid 1000 show as the mapped ids, files
// created through the mount land on disk as 1000, ids outside the mapping
// cannot write, and the other bind options still apply.
func TestIDMappedBind(t *testing.T) {
	rootfs := newRootfs(t)
	src := ownedDir(t, 1000, 1000)
	spec := newSpec(
		idmapped("/idm", src, idmap(1000, 0, 1), "bind", "idmap"),
		idmapped("/idm2", src, idmap(1000, 2000, 1), "rbind", "idmap"),
		idmapped("/idmro", src, idmap(1000, 0, 1), "bind", "idmap", "ro", "nosuid"),
		// Mappings without the option: still idmapped (runc does the same).
		idmapped("/noopt", src, idmap(1000, 0, 1), "bind"),
		specs.Mount{Destination: "/plain", Type: "bind", Source: src, Options: []string{"bind"}},
		// A file, on a mount point that does not exist yet.
		idmapped("/etc/idfile", filepath.Join(src, "f"), idmap(1000, 0, 1), "bind", "idmap"),
	)
	res := run(t, &childConfig{Spec: spec, Rootfs: rootfs, Cmds: []string{
		"stat -c %u:%g /idm /idm/f /idm2/f /idmro/f /noopt/f /plain/f", // 0
		"touch /idm/new && stat -c %u:%g /idm/new",                     // 1
		"touch /idmro/x",               // 2
		"touch /idm2/by-root",          // 3
		"cat /proc/self/mountinfo",     // 4
		"stat -c %u:%g:%F /etc/idfile", // 5
	}})
	mustSucceed(t, res)
	if r := res.cmd(t, 0); r.Out != "0:0\n0:0\n2000:2000\n0:0\n0:0\n1000:1000" {
		t.Errorf("owners inside: %q (code %d), want 0:0 0:0 2000:2000 0:0 0:0 1000:1000", r.Out, r.Code)
	}
	if r := res.cmd(t, 1); r.Code != 0 || r.Out != "0:0" {
		t.Errorf("create in idmapped bind: %+v", r)
	}
	if uid, gid := hostOwner(t, filepath.Join(src, "new")); uid != 1000 || gid != 1000 {
		t.Errorf("file created by root through the idmapped mount is %d:%d on the host, want 1000:1000", uid, gid)
	}
	if r := res.cmd(t, 2); r.Code == 0 || !strings.Contains(r.Out, "Read-only file system") {
		t.Errorf("touch in ro idmapped bind: %+v", r)
	}
	// uid 0 has no id in the mount's mapping (only 1000 <-> 2000), so it
	// cannot own a new file there (EOVERFLOW).
	if r := res.cmd(t, 3); r.Code == 0 {
		t.Errorf("root created a file through a mapping that does not map it: %+v", r)
	}
	mi := res.cmd(t, 4).Out
	for _, d := range []string{"/idm", "/idm2", "/idmro", "/noopt"} {
		if f, ok := parseMountLine(mountLine(mi, d)); !ok || !hasOpt(f.opts, "idmapped") {
			t.Errorf("%s not idmapped: %q", d, mountLine(mi, d))
		}
	}
	if f, _ := parseMountLine(mountLine(mi, "/idmro")); !hasOpt(f.opts, "ro") || !hasOpt(f.opts, "nosuid") {
		t.Errorf("/idmro options: %q", f.opts)
	}
	if f, _ := parseMountLine(mountLine(mi, "/plain")); hasOpt(f.opts, "idmapped") {
		t.Errorf("plain bind is idmapped: %q", mountLine(mi, "/plain"))
	}
	if r := res.cmd(t, 5); r.Out != "0:0:regular file" {
		t.Errorf("idmapped file bind: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(src, "by-root")); err == nil {
		t.Error("by-root reached the host")
	}
}

// TestRIDMappedSubmount: ridmap maps the submounts of an rbind too, idmap
// only its root.
func TestRIDMappedSubmount(t *testing.T) {
	rootfs := newRootfs(t)
	src := ownedDir(t, 1000, 1000)
	if err := os.Mkdir(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := newSpec(
		idmapped("/r", src, idmap(1000, 0, 1), "rbind", "ridmap"),
		idmapped("/i", src, idmap(1000, 0, 1), "rbind", "idmap"),
	)
	res := run(t, &childConfig{Spec: spec, Rootfs: rootfs,
		// A submount (tmpfs supports idmapping since Linux 6.3) in the
		// child's namespace only.
		PrePrepare: []string{"mount -t tmpfs -o uid=1000,gid=1000 gocker-idsub " + filepath.Join(src, "sub")},
		Cmds: []string{
			"stat -c %u:%g /r /r/sub /i /i/sub",
			"cat /proc/self/mountinfo",
		}})
	mustSucceed(t, res)
	if r := res.cmd(t, 0); r.Out != "0:0\n0:0\n0:0\n1000:1000" {
		t.Errorf("owners: %q (code %d), want 0:0 0:0 0:0 1000:1000", r.Out, r.Code)
	}
	mi := res.cmd(t, 1).Out
	for d, want := range map[string]bool{"/r": true, "/r/sub": true, "/i": true, "/i/sub": false} {
		f, ok := parseMountLine(mountLine(mi, d))
		if !ok || hasOpt(f.opts, "idmapped") != want {
			t.Errorf("%s: idmapped should be %v: %q", d, want, mountLine(mi, d))
		}
	}
}

// userNSMaps: container root is host root (it owns the rootfs), container
// ids 1..65535 are host 100001..165535.
var userNSMaps = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}, {ContainerID: 1, HostID: 100001, Size: 65535}}

// TestIDMappedUserNS: in a container with its own user namespace the
// parent makes the mounts. "idmap" without mappings takes the container's:
// host uid 1 shows as uid 1 instead of the overflow uid, and a chown to
// container uid 1 writes uid 1 to disk instead of host uid 100001.
func TestIDMappedUserNS(t *testing.T) {
	rootfs := newRootfs(t)
	src := ownedDir(t, 0, 0)
	for _, f := range []struct {
		name     string
		uid, gid int
	}{{"one", 1, 1}, {"thousand", 1000, 1000}} {
		p := filepath.Join(src, f.name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, f.uid, f.gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	sharedOnHost(t, src)
	spec := newSpec(
		specs.Mount{Destination: "/plain", Type: "bind", Source: src, Options: []string{"rbind"}},
		specs.Mount{Destination: "/cidm", Type: "bind", Source: src, Options: []string{"rbind", "idmap"}},
		// Disk uid 1000 is host 100005, container uid 5.
		idmapped("/eidm", src, idmap(1000, 100005, 1), "bind", "ridmap"),
	)
	spec.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.UserNamespace}, {Type: specs.MountNamespace}}
	spec.Linux.UIDMappings, spec.Linux.GIDMappings = userNSMaps, userNSMaps
	c := &childConfig{Spec: spec, Rootfs: rootfs, UserNS: true, UIDMap: userNSMaps, GIDMap: userNSMaps,
		IDMapParent: true,
		InnerFlags:  unix.CLONE_NEWNET, // sysfs needs a network namespace of our user namespace
		Cmds: []string{
			"stat -c %u:%g /plain/one /cidm/one /eidm/thousand /eidm/one",                   // 0
			"touch /cidm/made /plain/made2 && chown 1:1 /cidm/made /plain/made2 && echo ok", // 1
			"cat /proc/self/mountinfo", // 2
			// The parent cloned a shared host mount: this must not
			// propagate back to the host.
			"mount -t tmpfs gocker-idmap-prop /cidm/sub && echo mounted", // 3
		}}
	res := run(t, c)
	mustSucceed(t, res)
	if r := res.cmd(t, 0); r.Out != "65534:65534\n1:1\n5:5\n65534:65534" {
		t.Errorf("owners: %q (code %d), want 65534:65534 1:1 5:5 65534:65534", r.Out, r.Code)
	}
	if r := res.cmd(t, 1); r.Out != "ok" {
		t.Fatalf("chown inside: %+v", r)
	}
	if uid, gid := hostOwner(t, filepath.Join(src, "made")); uid != 1 || gid != 1 {
		t.Errorf("chown 1:1 through the idmapped mount gave %d:%d on the host, want 1:1", uid, gid)
	}
	if uid, gid := hostOwner(t, filepath.Join(src, "made2")); uid != 100001 || gid != 100001 {
		t.Errorf("chown 1:1 through the plain bind gave %d:%d on the host, want 100001:100001", uid, gid)
	}
	mi := res.cmd(t, 2).Out
	for _, d := range []string{"/cidm", "/eidm"} {
		if f, ok := parseMountLine(mountLine(mi, d)); !ok || !hasOpt(f.opts, "idmapped") {
			t.Errorf("%s not idmapped: %q", d, mountLine(mi, d))
		}
	}
	if r := res.cmd(t, 3); r.Out != "mounted" {
		t.Errorf("mount below the idmapped bind: %+v", r)
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), "gocker-idmap-prop") {
		t.Errorf("a mount below the idmapped bind propagated to the host:\n%s", b)
	}

	// The init alone cannot do it: it has no CAP_SYS_ADMIN over the host's
	// filesystem. The error says so and names the mount.
	c.IDMapParent = false
	res = run(t, c)
	want := "mount " + src + " to /cidm: idmapping " + src + " needs CAP_SYS_ADMIN in the user namespace that owns its filesystem"
	if res.Stage != "prepare" || !strings.HasPrefix(res.Err, want) || unix.Errno(res.Errno) != unix.EPERM {
		t.Errorf("without the parent: %s: %q (errno %d), want prefix %q (EPERM)", res.Stage, res.Err, res.Errno, want)
	}
}

// TestIDMapErrors: bad fields are refused before anything is mounted, with
// the field named; a filesystem that cannot be idmapped gives EINVAL with
// the mount and the filesystem named.
func TestIDMapErrors(t *testing.T) {
	rootfs := newRootfs(t)
	src := t.TempDir()
	m := idmap(0, 1000, 10)
	tests := []struct {
		name  string
		m     specs.Mount
		want  string
		errno unix.Errno
	}{
		{"tmpfs", specs.Mount{Destination: "/mnt/a", Type: "tmpfs", Source: "tmpfs", UIDMappings: m, GIDMappings: m},
			`mounts[6].uidMappings: only bind mounts can be idmapped (type "tmpfs", no bind or rbind option)`, 0},
		{"gid-only", specs.Mount{Destination: "/mnt/b", Type: "none", Source: src, Options: []string{"rbind", "idmap"}, GIDMappings: m},
			"mounts[6].gidMappings: must be given together with uidMappings", 0},
		{"no-userns", specs.Mount{Destination: "/mnt/c", Type: "bind", Source: src, Options: []string{"rbind", "ridmap"}},
			`mounts[6].options: "ridmap" without uidMappings and gidMappings takes the container's user namespace mappings, but the container has no user namespace`, 0},
		{"option-on-tmpfs", specs.Mount{Destination: "/mnt/d", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}},
			`mounts[6].options: "idmap" needs a bind mount (type "tmpfs", no bind or rbind option)`, 0},
		{"size0", idmapped("/mnt/e", src, idmap(0, 1000, 0), "bind", "idmap"),
			"mounts[6].uidMappings[0]: size is 0", 0},
		{"overlap", idmapped("/mnt/f", src, append(idmap(0, 1000, 10), idmap(5, 3000, 10)...), "bind", "idmap"),
			"mounts[6].uidMappings[1]: containerID range overlaps mounts[6].uidMappings[0]", 0},
		{"sysfs", idmapped("/mnt/g", "/sys/kernel", m, "rbind", "idmap"),
			"mount /sys/kernel to /mnt/g: idmapped mounts are not supported for /sys/kernel (filesystem sysfs) by this kernel: mount_setattr MOUNT_ATTR_IDMAP: invalid argument", unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, &childConfig{Spec: newSpec(tt.m), Rootfs: rootfs})
			if res.Stage != "prepare" || res.Err != tt.want || unix.Errno(res.Errno) != tt.errno {
				t.Errorf("got %s: %q (errno %d)\nwant %q (errno %d)", res.Stage, res.Err, res.Errno, tt.want, tt.errno)
			}
		})
	}
	// Refused up front: not even the spec's first mounts were made, so
	// nothing was created for them in the rootfs either.
	if _, err := os.Stat(filepath.Join(rootfs, "mnt", "a")); err == nil {
		t.Error("mount point of a refused mount was created")
	}
}

// TestIDMapperCache: one user namespace per distinct set of mappings, and
// Open refuses mounts that are not idmapped.
func TestIDMapperCache(t *testing.T) {
	requireRoot(t)
	src := t.TempDir()
	spec := newSpec(
		idmapped("/a", src, idmap(0, 1000, 10), "bind", "idmap"),
		idmapped("/b", src, idmap(0, 1000, 10), "rbind", "ridmap"),
		idmapped("/c", src, idmap(0, 2000, 10), "bind", "idmap"),
	)
	im := NewIDMapper(spec, "")
	defer im.Close()
	for i := 6; i < 9; i++ {
		f, err := im.Open(i)
		if err != nil {
			t.Fatalf("Open(%d): %v", i, err)
		}
		f.Close()
	}
	if len(im.cache) != 2 {
		t.Errorf("%d user namespaces for 2 distinct mappings", len(im.cache))
	}
	if _, err := im.Open(0); err == nil || err.Error() != "mounts[0] is not an idmapped mount" {
		t.Errorf("Open of the proc mount: %v", err)
	}
	if _, err := im.Open(9); err == nil {
		t.Error("Open of a mount past the end succeeded")
	}
}

// TestIDMapperContainerMappings: a mount whose mappings are the
// container's takes the container's user namespace instead of a new one.
func TestIDMapperContainerMappings(t *testing.T) {
	requireRoot(t)
	m := idmap(0, 100000, 65536)
	spec := newSpec(idmapped("/a", t.TempDir(), m, "bind", "idmap"), idmapped("/b", t.TempDir(), idmap(0, 200000, 10), "bind", "idmap"))
	spec.Linux.UIDMappings, spec.Linux.GIDMappings = m, m
	im := NewIDMapper(spec, "/proc/self/ns/user")
	defer im.Close()
	for _, i := range []int{6, 7} {
		if _, err := im.userNSFor(spec.Mounts[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := im.cache["container"]; !ok || len(im.cache) != 2 {
		t.Errorf("cache keys %v, want the container's namespace and one new", slices.Collect(maps.Keys(im.cache)))
	}
}

func TestParseIDMapOptions(t *testing.T) {
	for opts, want := range map[string][2]bool{
		"bind,idmap":         {true, false},
		"rbind,ridmap":       {true, true},
		"rbind,idmap,ridmap": {true, true},
		"rbind,ro":           {false, false},
	} {
		o, err := parseOptions(strings.Split(opts, ","))
		if err != nil {
			t.Fatal(err)
		}
		if o.idmap != want[0] || o.ridmap != want[1] || o.dataString() != "" {
			t.Errorf("%s: idmap %v ridmap %v data %q", opts, o.idmap, o.ridmap, o.dataString())
		}
	}
}

// BenchmarkNewUserNS is the cost of one user namespace for an idmapping:
// fork, execve stopped by PTRACE_TRACEME, maps written, reaped.
func BenchmarkNewUserNS(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	m := idmap(0, 100000, 65536)
	for b.Loop() {
		f, err := newUserNS(m, m)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkIDMappedTree adds open_tree and mount_setattr for a bind of a
// directory, with the user namespace cached.
func BenchmarkIDMappedTree(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	src := b.TempDir()
	im := NewIDMapper(&specs.Spec{Mounts: []specs.Mount{idmapped("/x", src, idmap(0, 100000, 65536), "bind", "idmap")}}, "")
	defer im.Close()
	for b.Loop() {
		f, err := im.Open(0)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
