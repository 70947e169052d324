package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// mountOpts returns the mount and super options of the mount at target from
// /proc/self/mountinfo text (proc(5): field 6 and the field after "-" + 2).
func mountOpts(mountinfo, target string) (string, bool) {
	var found string
	ok := false
	for _, l := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(l)
		if len(f) < 10 || f[4] != target {
			continue
		}
		sep := 6
		for sep < len(f) && f[sep] != "-" {
			sep++
		}
		if sep+3 < len(f) {
			found, ok = f[5]+" "+f[sep+1]+" "+f[sep+3], true // the last mount on target wins
		}
	}
	return found, ok
}

func hasOpt(opts, opt string) bool {
	for _, o := range strings.FieldsFunc(opts, func(r rune) bool { return r == ',' || r == ' ' }) {
		if o == opt {
			return true
		}
	}
	return false
}

func TestRootReadonly(t *testing.T) {
	script := `touch /gocker-ro-probe 2>/dev/null && echo writable || echo readonly; cat /proc/self/mountinfo`
	t.Run("readonly", func(t *testing.T) {
		e := newEnv(t)
		out := e.runScript(script, nil)
		if !strings.HasPrefix(out, "readonly\n") {
			t.Errorf("root.readonly=true: touch / did not fail: %q", out)
		}
		if o, ok := mountOpts(out, "/"); !ok || !hasOpt(strings.Fields(o)[0], "ro") {
			t.Errorf("root.readonly=true: / mount options %q lack ro", o)
		}
	})
	t.Run("readwrite", func(t *testing.T) {
		e := newEnv(t)
		// Only the mount flag is checked: writing would change the shared rootfs.
		out := e.runScript("cat /proc/self/mountinfo", func(s *specs.Spec) { s.Root.Readonly = false })
		if o, ok := mountOpts(out, "/"); !ok || !hasOpt(strings.Fields(o)[0], "rw") {
			t.Errorf("root.readonly=false: / mount options %q lack rw", o)
		}
	})
	if _, err := os.Stat(filepath.Join(sharedRootfs, "gocker-ro-probe")); err == nil {
		t.Errorf("probe file reached the shared rootfs")
	}
}

func TestTmpfsMount(t *testing.T) {
	e := newEnv(t)
	out := e.runScript(`stat -c %a `+mntTmpfs+`; echo data > `+mntTmpfs+`/f && cat `+mntTmpfs+`/f; cat /proc/self/mountinfo`,
		addMount(specs.Mount{Destination: mntTmpfs, Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "nodev", "size=1m", "mode=1750"}}))
	lines := strings.SplitN(out, "\n", 3)
	if len(lines) < 3 || lines[1] != "data" {
		t.Fatalf("tmpfs write: got %q, want data", lines)
	}
	// runc 1.1 chmods a tmpfs to the mode of the existing mountpoint (0755
	// here), overriding the mode= data option given to mount(2).
	if isGocker() && lines[0] != "1750" {
		t.Errorf("tmpfs mode=1750: stat says %s", lines[0])
	}
	o, ok := mountOpts(out, mntTmpfs)
	if !ok {
		t.Fatalf("no mount at %s in mountinfo:\n%s", mntTmpfs, out)
	}
	for _, want := range []string{"nosuid", "nodev", "size=1024k", "tmpfs"} {
		if !hasOpt(o, want) {
			t.Errorf("tmpfs mount options %q lack %q", o, want)
		}
	}
}

func TestBindMounts(t *testing.T) {
	e := newEnv(t)
	roDir, rwDir := filepath.Join(e.dir, "hostro"), filepath.Join(e.dir, "hostrw")
	hostFile := filepath.Join(e.dir, "hostfile")
	e.writeFile(filepath.Join(roDir, "f"), "ro-content\n", 0o644)
	e.writeFile(filepath.Join(rwDir, "locked", "keep"), "", 0o644)
	e.writeFile(hostFile, "file-content\n", 0o644)
	script := `cat ` + mntRO + `/f
touch ` + mntRO + `/new 2>/dev/null && echo ro-writable || echo ro-refused
echo from-container > ` + mntRW + `/out && echo rw-ok
touch ` + mntRW + `/locked/x 2>/dev/null && echo locked-writable || echo locked-refused
cat ` + mntFile
	got := e.runLines(script, chain(
		addMount(specs.Mount{Destination: mntRO, Type: "bind", Source: roDir, Options: []string{"rbind", "ro"}}),
		addMount(specs.Mount{Destination: mntRW, Type: "bind", Source: rwDir, Options: []string{"rbind", "rw"}}),
		addMount(specs.Mount{Destination: mntFile, Type: "bind", Source: hostFile, Options: []string{"bind", "ro"}}),
		func(s *specs.Spec) { s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, mntRW+"/locked") },
	))
	want := []string{"ro-content", "ro-refused", "rw-ok", "locked-refused", "file-content"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("bind mounts inside: %q, want %q", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(rwDir, "out")); err != nil || string(b) != "from-container\n" {
		t.Errorf("write through rw bind not visible on host: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(roDir, "new")); err == nil {
		t.Errorf("write through ro bind reached the host")
	}
}

// TestMaskedPaths: runtime-spec config-linux.md "Masked Paths": masked paths
// cannot be read. A masked file reads empty, a masked dir lists empty, and
// a path that does not exist is ignored.
func TestMaskedPaths(t *testing.T) {
	e := newEnv(t)
	if _, err := os.Stat(filepath.Join(sharedRootfs, mntMasked, "secret")); err != nil {
		t.Fatalf("rootfs lacks the file to mask: %v", err)
	}
	got := e.runLines(`echo "hostname=[$(cat /etc/hostname)]"; echo "dir=[$(ls -A `+mntMasked+`)]"; echo "kcore=[$(head -c 4 /proc/kcore | wc -c)]"`,
		func(s *specs.Spec) {
			s.Linux.MaskedPaths = []string{"/etc/hostname", mntMasked, "/proc/kcore", "/gocker-no-such-path"}
		})
	want := []string{"hostname=[]", "dir=[]", "kcore=[0]"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("masked paths inside: %q, want %q", got, want)
	}
	// Control: without masking the same reads see the content.
	got = e.runLines(`cat /etc/hostname; ls -A `+mntMasked, func(s *specs.Spec) { s.Linux.MaskedPaths = nil })
	if strings.Join(got, "|") != "gocker|secret" {
		t.Errorf("unmasked reads: %q, want [gocker secret]", got)
	}
}

func TestReadonlyPaths(t *testing.T) {
	e := newEnv(t)
	out := e.runScript("cat /proc/self/mountinfo", func(s *specs.Spec) {
		// /proc/sysrq-trigger does not exist on this kernel: a missing path
		// must be skipped, not fail the container.
		s.Linux.ReadonlyPaths = []string{"/proc/sys", "/proc/bus", "/proc/sysrq-trigger"}
	})
	for _, p := range []string{"/proc/sys", "/proc/bus"} {
		o, ok := mountOpts(out, p)
		if !ok || !hasOpt(strings.Fields(o)[0], "ro") {
			t.Errorf("readonlyPaths %s: mount options %q (found=%v), want ro", p, o, ok)
		}
	}
}

// TestLinuxDevices: runtime-spec config-linux.md "Devices" — the runtime
// creates the node with the given type, major:minor, mode and owner.
func TestLinuxDevices(t *testing.T) {
	e := newEnv(t)
	mode := os.FileMode(0o620)
	// Owner root so the container's root (no CAP_DAC_OVERRIDE) may write.
	uid, gid := uint32(0), uint32(1001)
	got := e.runLines(`stat -c '%F %t:%T %a %u:%g' /dev/gocker-null; echo x > /dev/gocker-null && echo write-ok`,
		func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/gocker-null", Type: "c", Major: 1, Minor: 3,
				FileMode: &mode, UID: &uid, GID: &gid}}
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
				specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "rwm"})
		})
	want := []string{"character special file 1:3 620 0:1001", "write-ok"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("linux.devices node: %q, want %q", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

// TestDefaultDevices: runtime-spec config-linux.md "Default Devices" plus
// the /dev/fd and std* links runc provides (runtime.md lists them as
// default filesystems/links, and shells rely on them).
func TestDefaultDevices(t *testing.T) {
	e := newEnv(t)
	got := e.runLines(`for d in null zero full random urandom tty; do stat -c '%n %F %t:%T' /dev/$d; done
for l in ptmx fd stdin stdout stderr; do echo "$l -> $(readlink /dev/$l)"; done
head -c 3 /dev/zero | wc -c`, nil)
	want := []string{
		"/dev/null character special file 1:3", "/dev/zero character special file 1:5",
		"/dev/full character special file 1:7", "/dev/random character special file 1:8",
		"/dev/urandom character special file 1:9", "/dev/tty character special file 5:0",
		"ptmx -> pts/ptmx", "fd -> /proc/self/fd", "stdin -> /proc/self/fd/0",
		"stdout -> /proc/self/fd/1", "stderr -> /proc/self/fd/2", "3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("default /dev:\n got %q\nwant %q", got, want)
	}
}
