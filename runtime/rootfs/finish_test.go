package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const erofs = "Read-only file system"

// TestMaskedAndReadonlyPaths checks linux.maskedPaths and
// linux.readonlyPaths, including paths that do not exist.
func TestMaskedAndReadonlyPaths(t *testing.T) {
	rootfs := newRootfs(t)
	for _, d := range []string{"secretdir", "writable"} {
		if err := os.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"etc/secret", "secretdir/inner"} {
		if err := os.WriteFile(filepath.Join(rootfs, f), []byte("top secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := newSpec()
	spec.Mounts[0].Options = []string{"nosuid", "noexec", "nodev"} // proc
	spec.Linux.MaskedPaths = []string{"/proc/kcore", "/proc/timer_list", "/etc/secret", "/secretdir", "/gocker/none", "/proc/gocker-none"}
	spec.Linux.ReadonlyPaths = []string{"/proc/sys", "/proc/sysrq-trigger", "/writable", "/gocker/none-ro"}
	res := run(t, &childConfig{Spec: spec, Rootfs: rootfs, Cmds: []string{
		"cat /proc/self/mountinfo",              // 0
		"cat /etc/secret; echo rc=$?",           // 1
		"ls -A /secretdir; echo rc=$?",          // 2
		"touch /secretdir/x",                    // 3
		"touch /writable/x",                     // 4
		"echo 1 > /proc/sys/kernel/ns_last_pid", // 5
		"cat /proc/sys/kernel/ostype",           // 6
		"head -c 16 /proc/timer_list | wc -c",   // 7
		"echo rw > /etc/rw && cat /etc/rw",      // 8
		"touch /proc/sys/x",                     // 9
	}})
	mustSucceed(t, res)
	mi := res.cmd(t, 0).Out
	if r := res.cmd(t, 1); r.Out != "rc=0" {
		t.Errorf("masked file not empty: %+v", r)
	}
	if r := res.cmd(t, 2); r.Out != "rc=0" {
		t.Errorf("masked dir not empty: %+v", r)
	}
	if f, _ := parseMountLine(mountLine(mi, "/secretdir")); f.fstype != "tmpfs" || !hasOpt(f.opts, "ro") {
		t.Errorf("masked dir mount: %q", mountLine(mi, "/secretdir"))
	}
	if r := res.cmd(t, 3); r.Code == 0 || !strings.Contains(r.Out, erofs) {
		t.Errorf("write into masked dir: %+v", r)
	}
	if r := res.cmd(t, 4); r.Code == 0 || !strings.Contains(r.Out, erofs) {
		t.Errorf("write into readonly path: %+v", r)
	}
	if r := res.cmd(t, 5); r.Code == 0 || !strings.Contains(r.Out, erofs) {
		t.Errorf("write to read-only /proc/sys: %+v", r)
	}
	if r := res.cmd(t, 6); r.Out != "Linux" {
		t.Errorf("read of read-only /proc/sys: %+v", r)
	}
	if _, err := os.Stat("/proc/timer_list"); err == nil {
		if r := res.cmd(t, 7); r.Out != "0" {
			t.Errorf("masked /proc/timer_list readable: %+v", r)
		}
	}
	if r := res.cmd(t, 8); r.Out != "rw" {
		t.Errorf("root should stay writable: %+v", r)
	}
	if r := res.cmd(t, 9); r.Code == 0 {
		t.Errorf("touch /proc/sys/x succeeded: %+v", r)
	}
	// The read-only remount keeps the flags the proc mount had.
	sys, _ := parseMountLine(mountLine(mi, "/proc/sys"))
	for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
		if !hasOpt(sys.opts, o) {
			t.Errorf("/proc/sys lacks %s: %q", o, sys.opts)
		}
	}
	if _, err := os.Stat(filepath.Join(rootfs, "gocker")); !os.IsNotExist(err) {
		t.Errorf("missing masked/readonly path was created: %v", err)
	}
}

// TestReadonlyRoot checks root.readonly with a writable tmpfs on top.
func TestReadonlyRoot(t *testing.T) {
	rootfs := newRootfs(t)
	spec := newSpec(specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	spec.Root.Readonly = true
	res := run(t, &childConfig{Spec: spec, Rootfs: rootfs, Cmds: []string{
		"touch /gocker-x",
		"touch /tmp/x && echo ok",
		"cat /proc/self/mountinfo",
	}})
	mustSucceed(t, res)
	if r := res.cmd(t, 0); r.Code == 0 || !strings.Contains(r.Out, erofs) {
		t.Errorf("write to read-only root: %+v", r)
	}
	if r := res.cmd(t, 1); r.Out != "ok" {
		t.Errorf("tmpfs on read-only root: %+v", r)
	}
	if l := mountLine(res.cmd(t, 2).Out, "/"); !hasOpt(strings.Fields(l + " x x x x x")[5], "ro") {
		t.Errorf("root mount: %q", l)
	}
}

// TestRootfsPropagationShared: linux.rootfsPropagation "rshared" leaves
// the container's "/" shared after Finish.
func TestRootfsPropagationShared(t *testing.T) {
	rootfs := newRootfs(t)
	spec := newSpec()
	spec.Linux.RootfsPropagation = "rshared"
	res := run(t, &childConfig{Spec: spec, Rootfs: rootfs, Cmds: []string{"cat /proc/self/mountinfo"}})
	mustSucceed(t, res)
	root, ok := parseMountLine(mountLine(res.cmd(t, 0).Out, "/"))
	if !ok || !strings.Contains(root.optional, "shared:") {
		t.Errorf("/ not shared: %q", mountLine(res.cmd(t, 0).Out, "/"))
	}
}

// TestNoPivot covers --no-pivot (MS_MOVE + chroot).
func TestNoPivot(t *testing.T) {
	rootfs := newRootfs(t)
	spec := newSpec()
	spec.Linux.ReadonlyPaths = []string{"/proc/sys"}
	res := run(t, &childConfig{Spec: spec, Rootfs: rootfs, NoPivot: true, Cmds: []string{
		"cat /etc/hostname; ls /bin/busybox",
		"cat /proc/self/mountinfo",
		"touch /proc/sys/x",
	}})
	mustSucceed(t, res)
	if r := res.cmd(t, 0); r.Out != "gocker\n/bin/busybox" {
		t.Errorf("root is not the rootfs: %+v", r)
	}
	mi := res.cmd(t, 1).Out
	for _, mp := range []string{"/", "/proc", "/dev", "/sys"} {
		if mountLine(mi, mp) == "" {
			t.Errorf("no mount at %s:\n%s", mp, mi)
		}
	}
	if r := res.cmd(t, 2); r.Code == 0 {
		t.Errorf("readonly path writable: %+v", r)
	}
}

// TestConsole checks SetupConsole binds the pty slave onto /dev/console.
func TestConsole(t *testing.T) {
	rootfs := newRootfs(t)
	res := run(t, &childConfig{Spec: newSpec(), Rootfs: rootfs, Console: true, Cmds: []string{
		"stat -c '%F %t:%T' /dev/console",
		"stat -c '%F %t:%T' $(cat /proc/self/mountinfo | awk '$5 == \"/dev/console\" {print \"/dev/pts\" $4}')",
	}})
	mustSucceed(t, res)
	if !strings.HasPrefix(res.Console, "/dev/pts/") {
		t.Fatalf("console pts %q", res.Console)
	}
	got := res.cmd(t, 0)
	if !strings.HasPrefix(got.Out, "character special file 88:") {
		t.Errorf("/dev/console is not a pty slave (major 136 = 0x88): %+v", got)
	}
	if other := res.cmd(t, 1); other.Out != got.Out {
		t.Errorf("/dev/console %q differs from its source %q", got.Out, other.Out)
	}
}

// TestCgroupV1 checks a "cgroup" mount on a cgroup v1 host, without and
// with a cgroup namespace.
func TestCgroupV1(t *testing.T) {
	var st unix.Statfs_t
	if err := unix.Statfs(hostCgroupRoot, &st); err != nil || st.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Skip("host is not cgroup v1")
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var memPath string
	for _, l := range strings.Split(string(own), "\n") {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && f[1] == "memory" {
			memPath = f[2]
		}
	}
	cg := specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
		Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}}
	for _, tc := range []struct {
		name  string
		ns    bool
		paths map[string]string
		root  string // wanted mountinfo root of the memory hierarchy
	}{
		{name: "own-cgroup", root: memPath},
		// Options.CgroupPaths wins over /proc/self/cgroup.
		{name: "paths", paths: map[string]string{"memory": "/sys/fs/cgroup/memory"}, root: "/"},
		{name: "cgroupns", ns: true, root: "/"},
	} {
		ns := tc.ns
		var flags uintptr
		if ns {
			flags = unix.CLONE_NEWCGROUP
		}
		t.Run(tc.name, func(t *testing.T) {
			if tc.root == "/" && memPath == "/" {
				t.Skip("test process is in the root memory cgroup: cannot tell paths apart")
			}
			rootfs := newRootfs(t)
			res := run(t, &childConfig{Spec: newSpec(cg), Rootfs: rootfs, CgroupNS: ns, InnerFlags: flags,
				CgroupPaths: tc.paths, Cmds: []string{
					"cat /proc/self/mountinfo",
					"readlink /sys/fs/cgroup/cpu; ls /sys/fs/cgroup/memory/memory.limit_in_bytes",
					"touch /sys/fs/cgroup/gocker-x",
					"mkdir /sys/fs/cgroup/memory/gocker-test",
				}})
			mustSucceed(t, res)
			mi := res.cmd(t, 0).Out
			mem, ok := parseMountLine(mountLine(mi, "/sys/fs/cgroup/memory"))
			wantRoot := tc.root
			if !ok || mem.fstype != "cgroup" || mem.root != wantRoot || !hasOpt(mem.opts, "ro") {
				t.Errorf("memory hierarchy: %q, want root %s, ro", mountLine(mi, "/sys/fs/cgroup/memory"), wantRoot)
			}
			if u, ok := parseMountLine(mountLine(mi, "/sys/fs/cgroup/unified")); ok && u.fstype != "cgroup2" {
				t.Errorf("unified: %q", mountLine(mi, "/sys/fs/cgroup/unified"))
			}
			if tm, _ := parseMountLine(mountLine(mi, "/sys/fs/cgroup")); tm.fstype != "tmpfs" || !hasOpt(tm.opts, "ro") {
				t.Errorf("/sys/fs/cgroup: %q", mountLine(mi, "/sys/fs/cgroup"))
			}
			if _, err := os.Stat("/sys/fs/cgroup/cpu,cpuacct"); err == nil {
				if r := res.cmd(t, 1); !strings.HasPrefix(r.Out, "cpu,cpuacct\n") {
					t.Errorf("co-mount symlink: %+v", r)
				}
			} else if r := res.cmd(t, 1); r.Code != 0 || !strings.HasSuffix(r.Out, "memory.limit_in_bytes") {
				t.Errorf("memory files: %+v", r)
			}
			for _, i := range []int{2, 3} {
				if r := res.cmd(t, i); r.Code == 0 || !strings.Contains(r.Out, erofs) {
					t.Errorf("write to read-only cgroup mount: %+v", r)
				}
			}
		})
	}
}

// TestUserNamespace runs as root of a user namespace: mknod fails there, so
// devices must be bind mounts of the host's, and a ro bind of a source with
// locked nosuid,nodev,noexec must keep them.
func TestUserNamespace(t *testing.T) {
	rootfs := newRootfs(t)
	src := t.TempDir()
	spec := newSpec(specs.Mount{Destination: "/locked", Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	spec.Linux.ReadonlyPaths = []string{"/proc/sys"}
	// gid 5 is not mapped in this user namespace: devpts refuses it.
	spec.Mounts[2].Options = []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
	res := run(t, &childConfig{Spec: spec, Rootfs: rootfs, UserNS: true,
		Outer:      []string{"mount -t tmpfs -o nosuid,nodev,noexec gocker-locked " + src},
		InnerFlags: baseFlags | unix.CLONE_NEWUSER | unix.CLONE_NEWNET,
		Cmds: []string{
			"cat /proc/self/mountinfo",
			"stat -c '%n %F %t:%T' /dev/null /dev/zero /dev/tty",
			"echo data > /dev/null && head -c 4 /dev/zero | wc -c",
			"touch /locked/x",
		}})
	mustSucceed(t, res)
	mi := res.cmd(t, 0).Out
	for _, d := range []string{"/dev/null", "/dev/zero", "/dev/tty"} {
		if mountLine(mi, d) == "" {
			t.Errorf("%s is not a bind of the host device", d)
		}
	}
	want := "/dev/null character special file 1:3\n/dev/zero character special file 1:5\n/dev/tty character special file 5:0"
	if r := res.cmd(t, 1); r.Out != want {
		t.Errorf("devices: %q, want %q", r.Out, want)
	}
	if r := res.cmd(t, 2); r.Out != "4" {
		t.Errorf("device use: %+v", r)
	}
	l, _ := parseMountLine(mountLine(mi, "/locked"))
	for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
		if !hasOpt(l.opts, o) {
			t.Errorf("/locked lacks %s: %q", o, mountLine(mi, "/locked"))
		}
	}
	if r := res.cmd(t, 3); r.Code == 0 || !strings.Contains(r.Out, erofs) {
		t.Errorf("write to ro bind: %+v", r)
	}
}
