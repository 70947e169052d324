package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func fm(m os.FileMode) *os.FileMode { return &m }

// TestDefaultMounts runs the mounts of a default spec plus a tmpfs with
// options and checks the result from inside the container.
func TestDefaultMounts(t *testing.T) {
	rootfs := newRootfs(t)
	spec := newSpec(specs.Mount{Destination: "/mnt/scratch", Type: "tmpfs", Source: "scratch",
		Options: []string{"noexec", "nodev", "noatime", "size=1m", "mode=700"}})
	spec.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/mydev", Type: "c", Major: 1, Minor: 7, FileMode: fm(0o640), UID: u32(1000), GID: u32(1001)},
		{Path: "/dev/sub/fifo", Type: "p", FileMode: fm(0o600)},
	}
	res := run(t, &childConfig{Spec: spec, Rootfs: rootfs, Cmds: []string{
		"cat /proc/self/mountinfo", // 0
		"stat -c '%n %F %t:%T %a %u:%g' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty", // 1
		"stat -c '%n %F %t:%T %a %u:%g' /dev/mydev /dev/sub/fifo",                                        // 2
		"for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done",                                // 3
		"readlink /dev/core",     // 4
		"touch /sys/gocker-test", // 5
		"echo hi > /mnt/scratch/f && cat /mnt/scratch/f && stat -c %a /mnt/scratch", // 6
		"echo $$; cat /etc/hostname", // 7
	}})
	mustSucceed(t, res)

	mi := res.cmd(t, 0).Out
	for mp, fstype := range map[string]string{"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts",
		"/dev/shm": "tmpfs", "/dev/mqueue": "mqueue", "/sys": "sysfs", "/mnt/scratch": "tmpfs"} {
		f, ok := parseMountLine(mountLine(mi, mp))
		if !ok || f.fstype != fstype {
			t.Errorf("%s: want %s mount, mountinfo line %q", mp, fstype, mountLine(mi, mp))
		}
	}
	sys, _ := parseMountLine(mountLine(mi, "/sys"))
	for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
		if !hasOpt(sys.opts, o) {
			t.Errorf("/sys lacks %s: %q", o, sys.opts)
		}
	}
	scratch, _ := parseMountLine(mountLine(mi, "/mnt/scratch"))
	if !hasOpt(scratch.opts, "noexec") || !hasOpt(scratch.opts, "nodev") || !hasOpt(scratch.opts, "noatime") ||
		hasOpt(scratch.opts, "nosuid") || !hasOpt(scratch.super, "size=1024k") || !hasOpt(scratch.super, "mode=700") {
		t.Errorf("/mnt/scratch options: %q super %q", scratch.opts, scratch.super)
	}
	pts, _ := parseMountLine(mountLine(mi, "/dev/pts"))
	if !hasOpt(pts.super, "ptmxmode=666") || !hasOpt(pts.super, "gid=5") {
		t.Errorf("/dev/pts super options %q", pts.super)
	}

	wantDevs := []string{
		"/dev/null character special file 1:3 666 0:0",
		"/dev/zero character special file 1:5 666 0:0",
		"/dev/full character special file 1:7 666 0:0",
		"/dev/random character special file 1:8 666 0:0",
		"/dev/urandom character special file 1:9 666 0:0",
		"/dev/tty character special file 5:0 666 0:0",
	}
	if got := res.cmd(t, 1).Out; got != strings.Join(wantDevs, "\n") {
		t.Errorf("default devices:\n%s\nwant:\n%s", got, strings.Join(wantDevs, "\n"))
	}
	wantSpec := "/dev/mydev character special file 1:7 640 1000:1001\n/dev/sub/fifo fifo 0:0 600 0:0"
	if got := res.cmd(t, 2).Out; got != wantSpec {
		t.Errorf("spec devices:\n%s\nwant:\n%s", got, wantSpec)
	}
	if got := res.cmd(t, 3).Out; got != "pts/ptmx\n/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2" {
		t.Errorf("/dev symlinks: %q", got)
	}
	_, kcoreErr := os.Stat("/proc/kcore")
	if core := res.cmd(t, 4); (kcoreErr == nil) != (core.Code == 0 && core.Out == "/proc/kcore") {
		t.Errorf("/dev/core: %+v, host /proc/kcore: %v", core, kcoreErr)
	}
	if r := res.cmd(t, 5); r.Code == 0 || !strings.Contains(r.Out, "Read-only file system") {
		t.Errorf("touch in read-only /sys: %+v", r)
	}
	if r := res.cmd(t, 6); r.Code != 0 || r.Out != "hi\n700" {
		t.Errorf("tmpfs with mode=700: %+v", r)
	}
	// The shell is not pid 1 (the Go child is), but /proc must be the
	// container's pid namespace: the shell's pid is tiny.
	r := res.cmd(t, 7)
	lines := strings.Split(r.Out, "\n")
	var pid int
	if len(lines) != 2 || lines[1] != "gocker" || func() bool { _, err := fmt.Sscan(lines[0], &pid); return err != nil }() || pid > 50 {
		t.Errorf("pid/hostname inside: %+v", r)
	}
}

// TestBindMounts covers directory, file and read-only binds, propagation
// options and recursive read-only.
func TestBindMounts(t *testing.T) {
	rootfs := newRootfs(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "hello"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file.txt")
	if err := os.WriteFile(file, []byte("single file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := newSpec(
		specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind", "shared"}},
		specs.Mount{Destination: "/ro", Type: "none", Source: src, Options: []string{"rbind", "ro", "nosuid"}},
		specs.Mount{Destination: "/rro", Source: src, Options: []string{"rbind", "rro"}},
		specs.Mount{Destination: "/etc/deep/er/file.txt", Type: "bind", Source: file, Options: []string{"bind", "ro"}},
	)
	res := run(t, &childConfig{Spec: spec, Rootfs: rootfs,
		// A submount in the source, made in the child's namespace only.
		PrePrepare: []string{"mount -t tmpfs gocker-sub " + filepath.Join(src, "sub")},
		Cmds: []string{
			"cat /proc/self/mountinfo",              // 0
			"cat /data/hello /etc/deep/er/file.txt", // 1
			"echo new > /data/written && echo ok",   // 2
			"touch /ro/x",                           // 3
			"touch /ro/sub/x && echo sub-writable",  // 4
			"touch /rro/sub/x",                      // 5
			"echo x >> /etc/deep/er/file.txt",       // 6
		}})
	mustSucceed(t, res)
	mi := res.cmd(t, 0).Out

	data, ok := parseMountLine(mountLine(mi, "/data"))
	if !ok || !strings.Contains(data.optional, "shared:") || hasOpt(data.opts, "ro") {
		t.Errorf("/data: want rw shared bind, got %q", mountLine(mi, "/data"))
	}
	ro, _ := parseMountLine(mountLine(mi, "/ro"))
	if !hasOpt(ro.opts, "ro") || !hasOpt(ro.opts, "nosuid") {
		t.Errorf("/ro options %q", ro.opts)
	}
	if f, _ := parseMountLine(mountLine(mi, "/etc/deep/er/file.txt")); !hasOpt(f.opts, "ro") {
		t.Errorf("file bind: %q", mountLine(mi, "/etc/deep/er/file.txt"))
	}
	if r := res.cmd(t, 1); r.Out != "from host\nsingle file" {
		t.Errorf("bind contents: %+v", r)
	}
	if r := res.cmd(t, 2); r.Code != 0 {
		t.Errorf("write to rw bind: %+v", r)
	}
	if b, err := os.ReadFile(filepath.Join(src, "written")); err != nil || string(b) != "new\n" {
		t.Errorf("write through rw bind not on host: %q %v", b, err)
	}
	if r := res.cmd(t, 3); r.Code == 0 || !strings.Contains(r.Out, "Read-only file system") {
		t.Errorf("touch in ro bind: %+v", r)
	}
	// "ro" applies to the top mount only; the submount stays writable.
	if r := res.cmd(t, 4); r.Code != 0 || r.Out != "sub-writable" {
		t.Errorf("submount of non-recursive ro bind: %+v", r)
	}
	if r := res.cmd(t, 5); r.Code == 0 || !strings.Contains(r.Out, "Read-only file system") {
		t.Errorf("submount of rro bind: %+v", r)
	}
	if r := res.cmd(t, 6); r.Code == 0 {
		t.Errorf("append to ro file bind succeeded: %+v", r)
	}
	if b, _ := os.ReadFile(file); string(b) != "single file\n" {
		t.Errorf("host file changed: %q", b)
	}
}

// TestSymlinkDestination: destinations that are symlinks pointing outside
// the rootfs must land inside it (CVE-2021-30465 class).
func TestSymlinkDestination(t *testing.T) {
	rootfs := newRootfs(t)
	outside, outside2 := t.TempDir(), t.TempDir()
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(rootfs, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../.."+outside2, filepath.Join(rootfs, "tmp", "evil2")); err != nil {
		t.Fatal(err)
	}
	spec := newSpec(
		specs.Mount{Destination: "/evil", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/tmp/evil2/planted", Type: "bind", Source: file, Options: []string{"bind"}},
	)
	// Mount points at or below the host directories, if any.
	awk := func(dir string) string {
		return fmt.Sprintf(`awk '$5 == "%s" || index($5, "%s/") == 1' /proc/self/mountinfo`, dir, dir)
	}
	res := run(t, &childConfig{Spec: spec, Rootfs: rootfs,
		PrePivot: []string{awk(outside) + "; " + awk(outside2)},
		Cmds:     []string{"cat /proc/self/mountinfo", "cat " + outside2 + "/planted"},
	})
	mustSucceed(t, res)
	if len(res.PrePivot) != 1 || res.PrePivot[0].Code != 0 || res.PrePivot[0].Out != "" {
		t.Errorf("a mount landed outside the rootfs: %+v", res.PrePivot)
	}
	mi := res.cmd(t, 0).Out
	if f, ok := parseMountLine(mountLine(mi, outside)); !ok || f.fstype != "tmpfs" {
		t.Errorf("tmpfs for /evil not at %s inside the rootfs:\n%s", outside, mi)
	}
	if r := res.cmd(t, 1); r.Code != 0 || r.Out != "x" {
		t.Errorf("file bind through relative symlink: %+v", r)
	}
	for _, d := range []string{outside, outside2} {
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Errorf("host directory %s got %d entries", d, len(ents))
		}
	}
	if _, err := os.Stat(filepath.Join(rootfs, outside2, "planted")); err != nil {
		t.Errorf("bind target not created inside the rootfs: %v", err)
	}
}

// TestProcOnSymlink: proc must not be mounted through a symlinked /proc.
func TestProcOnSymlink(t *testing.T) {
	rootfs := newRootfs(t)
	if err := os.Remove(filepath.Join(rootfs, "proc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(rootfs, "fakeproc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/fakeproc", filepath.Join(rootfs, "proc")); err != nil {
		t.Fatal(err)
	}
	res := run(t, &childConfig{Spec: newSpec(), Rootfs: rootfs})
	want := `mount proc to /proc: filesystem "proc" must be mounted on an ordinary directory`
	if res.Stage != "prepare" || res.Err != want {
		t.Errorf("got %s: %q, want prepare: %q", res.Stage, res.Err, want)
	}
}

// TestMountErrors checks the error format and that errno survives wrapping.
func TestMountErrors(t *testing.T) {
	rootfs := newRootfs(t)
	tests := []struct {
		m     specs.Mount
		want  string
		errno unix.Errno
	}{
		{specs.Mount{Destination: "/mnt/x", Type: "gockerbogusfs", Source: "none"},
			"mount none to /mnt/x: no such device", unix.ENODEV},
		{specs.Mount{Destination: "/mnt/y", Type: "bind", Source: "/nonexistent/gocker", Options: []string{"rbind"}},
			"mount /nonexistent/gocker to /mnt/y: stat /nonexistent/gocker: no such file or directory", unix.ENOENT},
		{specs.Mount{Destination: "/proc/sys/gocker", Type: "tmpfs", Source: "tmpfs"},
			"mount tmpfs to /proc/sys/gocker: /proc/sys/gocker cannot be mounted because it is inside /proc", 0},
		{specs.Mount{Destination: "/mnt/w", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=bogus"}},
			"mount tmpfs to /mnt/w: invalid argument", unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.m.Destination, func(t *testing.T) {
			res := run(t, &childConfig{Spec: newSpec(tt.m), Rootfs: rootfs})
			if res.Stage != "prepare" || res.Err != tt.want || unix.Errno(res.Errno) != tt.errno {
				t.Errorf("got %s: %q (errno %d), want %q (errno %d)", res.Stage, res.Err, res.Errno, tt.want, tt.errno)
			}
		})
	}
}

// TestOverlay: other filesystem types go straight to mount(2) with their
// data options.
func TestOverlay(t *testing.T) {
	rootfs := newRootfs(t)
	base := t.TempDir()
	dirs := map[string]string{}
	for _, d := range []string{"lower", "upper", "work"} {
		dirs[d] = filepath.Join(base, d)
		if err := os.Mkdir(dirs[d], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dirs["lower"], "a"), []byte("lower\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := newSpec(specs.Mount{Destination: "/merged", Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + dirs["lower"], "upperdir=" + dirs["upper"], "workdir=" + dirs["work"], "nodev"}})
	res := run(t, &childConfig{Spec: spec, Rootfs: rootfs, Cmds: []string{
		"cat /merged/a && echo upper > /merged/b",
		"cat /proc/self/mountinfo",
	}})
	mustSucceed(t, res)
	if r := res.cmd(t, 0); r.Code != 0 || r.Out != "lower" {
		t.Errorf("overlay read: %+v", r)
	}
	if f, _ := parseMountLine(mountLine(res.cmd(t, 1).Out, "/merged")); f.fstype != "overlay" || !hasOpt(f.opts, "nodev") {
		t.Errorf("overlay mount: %q", mountLine(res.cmd(t, 1).Out, "/merged"))
	}
	if b, err := os.ReadFile(filepath.Join(dirs["upper"], "b")); err != nil || string(b) != "upper\n" {
		t.Errorf("write did not reach upperdir: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dirs["lower"], "b")); !os.IsNotExist(err) {
		t.Errorf("write reached lowerdir: %v", err)
	}
}
