package integration

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// One regression test per class of runc CVE: each builds the attack and
// shows that it fails. Where the runc under test (1.1.5) is still open to
// an attack, the assertion is gocker-only (vulnerableRunc), so the suite
// stays green for the anchors; GOCKER_TEST_CVE_ALL=1 runs them anyway to
// show the attack works there.

// vulnerableRunc skips for runc/crun versions that are known to be open to
// the attack, unless GOCKER_TEST_CVE_ALL is set.
func vulnerableRunc(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("GOCKER_TEST_CVE_ALL") == "" {
		gockerOnly(t, why)
	}
}

// privateRootfs copies the shared busybox rootfs, for attacks that must
// change the image.
func (e *env) privateRootfs() string {
	e.t.Helper()
	dst := filepath.Join(e.dir, "rootfs-"+randHex(3))
	if out, err := exec.Command("cp", "-a", sharedRootfs, dst).CombinedOutput(); err != nil {
		e.t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	return dst
}

// hostDir makes a directory in the test dir, for binds and targets.
func (e *env) hostDir(name string) string {
	e.t.Helper()
	d := filepath.Join(e.dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func bindRW(src, dst string) func(*specs.Spec) {
	return addMount(specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rw"}})
}

func shHook(script string) specs.Hook {
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}
}

// mountinfoHook is a prestart hook (runtime namespace, after the mounts,
// before the switch of root) that saves the init's mountinfo to out: where
// each mount landed, host paths included.
func mountinfoHook(out string) specs.Hook {
	return shHook(`p=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p'); cat /proc/$p/mountinfo > ` + out)
}

// mountsAt lists the mount points in a mountinfo dump at or below dir.
func mountsAt(mountinfo, dir string) []string {
	var out []string
	for _, l := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

func sha(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// rtBin runs another copy of the runtime with the env's root and log.
func (e *env) rtBin(bin string, stdout io.Writer, args ...string) *exec.Cmd {
	full := append([]string{"--root", e.root, "--log", e.logFile, "--log-format", "json"}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Stdout, cmd.Stderr = stdout, stdout
	return cmd
}

// TestCVE2019_5736: overwrite the runtime through /proc/PID/exe. The
// container's program is a script whose interpreter is /proc/self/exe,
// which the kernel resolves in the init at execve: the runtime binary then
// runs as the container's own (dumpable) process. A process with the
// container's credentials (uid 0, no capabilities) opens /proc/PID/exe,
// waits for the runtime to exit, and reopens the handle for writing, as the
// original exploit did. A second handle is taken on the init itself just
// before its execve, by host root (what a container with CAP_SYS_PTRACE
// could do). Neither may write; the binary (a copy, so a vulnerable runtime
// only damages the copy) must be unchanged.
func TestCVE2019_5736(t *testing.T) {
	requireSetpriv(t)
	e := newEnv(t)
	bin := filepath.Join(e.hostDir("bin"), filepath.Base(runtimePath))
	if out, err := exec.Command("cp", runtimePath, bin).CombinedOutput(); err != nil {
		t.Fatalf("copy runtime: %v: %s", err, out)
	}
	// gocker runs the init from gocker-init (or gocker-nsenter) beside it:
	// that binary is the one /proc/self/exe names in the container, so it
	// is copied and checked too.
	bins := []string{bin}
	for _, name := range []string{"gocker-init", "gocker-nsenter"} {
		if !isGocker() {
			break
		}
		cp := filepath.Join(filepath.Dir(bin), name)
		if out, err := exec.Command("cp", filepath.Join(filepath.Dir(runtimePath), name), cp).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v: %s", name, err, out)
		}
		bins = append(bins, cp)
	}
	before := map[string][32]byte{}
	for _, b := range bins {
		before[b] = sha(t, b)
	}
	rw := e.hostDir("rw")
	e.writeFile(filepath.Join(rw, "evil"), "#!/proc/self/exe\n", 0o755)
	a := e.seccompAgent()
	id := e.id("cve5736")
	b := e.bundle(id, chain(withArgs("/mnt/rw/evil"), noCaps, bindRW(rw, mntRW), func(s *specs.Spec) {
		s.Linux.Seccomp = notifyProfile(a.path, "", "execve", "execveat", "exit_group")
	}))
	out, err := os.Create(filepath.Join(e.dir, "container.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := e.rtBin(bin, out, "create", "--bundle", b, id).Run(); err != nil {
		t.Fatalf("create: %v", err)
	}
	pid := e.mustState(id).Pid
	start := e.rtBin(bin, io.Discard, "start", id)
	if err := start.Start(); err != nil {
		t.Fatal(err)
	}
	defer start.Wait()
	a.state(10 * time.Second)

	// Stage 1: the init, blocked at the execve of the user program.
	n, err := a.next(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n.Nr != unix.SYS_EXECVE && n.Nr != unix.SYS_EXECVEAT || int(n.Pid) != pid {
		t.Fatalf("first notification: syscall %d from pid %d, want execve from the init %d", n.Nr, n.Pid, pid)
	}
	initExe, err := os.OpenFile(fmt.Sprintf("/proc/%d/exe", pid), unix.O_PATH, 0)
	if err != nil {
		t.Fatalf("host root cannot open the init's exe: %v", err)
	}
	defer initExe.Close()
	if err := a.answer(n, 0, true); err != nil {
		t.Fatal(err)
	}

	// Stage 2: the runtime binary running as the container's program.
	n, err = a.next(10 * time.Second)
	var verdict string
	if err == nil && n.Nr == unix.SYS_EXIT_GROUP && strings.HasPrefix(readCmdline(int(n.Pid)), "/proc/self/exe") {
		verdict = probeExeAfterExit(t, a, n)
	} else {
		// runc is dynamically linked and cannot run inside busybox.
		t.Logf("the runtime binary did not run in the container (notification %+v, %v); stage 2 skipped", n, err)
		if err == nil {
			a.answer(n, 0, true)
		}
	}
	e.waitStatus(id, "stopped", 10*time.Second)
	start.Wait()
	t.Logf("stage 2 (runtime binary as the container's program): %q", verdict)
	if verdict != "" && verdict != "not-written" {
		t.Errorf("a process with the container's credentials wrote the runtime binary through /proc/PID/exe: %s", verdict)
	}
	if w, err := reopenWrite(initExe); err == nil {
		t.Errorf("the init's /proc/PID/exe handle was reopened and written: %v", w)
	}
	for _, b := range bins {
		if sha(t, b) != before[b] {
			t.Fatalf("the runtime binary %s was modified", b)
		}
		// Control: the file itself is writable for these credentials, so
		// only the runtime's protection stopped the writes above.
		f, err := os.OpenFile(b, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatalf("control: the binary copy %s is not writable at all: %v", b, err)
		}
		f.Close()
	}
}

// probeExeAfterExit runs the exploit's second half against the process of
// notification n (the runtime binary, stopped at exit_group): hold its exe,
// let it exit, then write.
func probeExeAfterExit(t *testing.T, a *seccompAgent, n seccompNotif) string {
	t.Helper()
	script := fmt.Sprintf(`if cat /proc/%d/exe >/dev/null 2>&1; then exec 3</proc/%d/exe; echo opened; else echo denied; exit 0; fi
read x
if (printf X >>/proc/self/fd/3) 2>/dev/null; then echo wrote; else echo not-written; fi`, n.Pid, n.Pid)
	probe := noCapsProbe(script)
	stdin, _ := probe.StdinPipe()
	stdout, _ := probe.StdoutPipe()
	if err := probe.Start(); err != nil {
		t.Fatal(err)
	}
	defer probe.Wait()
	sc := bufio.NewScanner(stdout)
	first := ""
	if sc.Scan() {
		first = sc.Text()
	}
	if err := a.answer(n, 0, true); err != nil {
		t.Fatal(err)
	}
	if first != "opened" {
		stdin.Close()
		t.Fatalf("the probe could not open /proc/%d/exe of a dumpable process with its credentials (%q): the test proves nothing", n.Pid, first)
	}
	// Wait for the process to be gone: only then is the binary no longer
	// "text busy".
	waitFor(10*time.Second, func() bool { return !pidAlive(int(n.Pid)) })
	io.WriteString(stdin, "go\n")
	stdin.Close()
	if sc.Scan() {
		return sc.Text()
	}
	return "no answer from the probe"
}

func readCmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
}

// reopenWrite reopens an O_PATH handle for appending and writes one byte.
func reopenWrite(h *os.File) (string, error) {
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", h.Fd()), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write([]byte("X")); err != nil {
		return "", err
	}
	return "wrote one byte", nil
}

// TestCVE2016_9962: the init must not be open to ptrace or /proc access
// before it has executed the user program. The init is stopped at that
// execve (seccomp notify), with the credentials it gives the program:
// uid 0 and no capabilities. A probe with the same credentials must be
// denied; once the program runs (dumpable, same credentials), the same
// probe succeeds, which shows it is the init's non-dumpability that
// stopped it.
func TestCVE2016_9962(t *testing.T) {
	vulnerableRunc(t, "runc 1.1 makes its init non-dumpable only when it joins namespaces (runc exec); a created init is dumpable until execve")
	requireSetpriv(t)
	e := newEnv(t)
	a := e.seccompAgent()
	id := e.id("cve9962")
	b := e.bundle(id, chain(withArgs("sleep", "1000"), noCaps, func(s *specs.Spec) {
		s.Linux.Seccomp = notifyProfile(a.path, "", "execve", "execveat")
	}))
	e.create(id, b)
	pid := e.mustState(id).Pid
	start := e.rtStart(opts{}, "start", id)
	a.state(10 * time.Second)
	n, err := a.next(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if int(n.Pid) != pid {
		t.Fatalf("notification from pid %d, want the init %d", n.Pid, pid)
	}
	script := fmt.Sprintf(`for f in environ maps; do cat /proc/%[1]d/$f >/dev/null 2>&1 && echo $f-ok || echo $f-denied; done
for f in exe cwd root fd/0; do readlink /proc/%[1]d/$f >/dev/null 2>&1 && echo $f-ok || echo $f-denied; done`, pid)
	out, err := noCapsProbe(script).CombinedOutput()
	if err != nil {
		t.Fatalf("probe: %v: %s", err, out)
	}
	if err := a.answer(n, 0, true); err != nil {
		t.Fatal(err)
	}
	e.ok(start.wait())
	if strings.Contains(string(out), "-ok") {
		t.Errorf("a process with the init's final credentials reached its /proc before execve:\n%s", out)
	}
	if !waitFor(5*time.Second, func() bool { return strings.HasPrefix(readCmdline(pid), "sleep") }) {
		t.Fatalf("the program did not start: cmdline %q", readCmdline(pid))
	}
	after, _ := noCapsProbe(script).CombinedOutput()
	if strings.Contains(string(after), "denied") {
		t.Errorf("control: the probe cannot reach the dumpable program either, so the test proves nothing:\n%s", after)
	}
}

// TestCVE2024_21626: a host fd left open in the init, named through
// process.cwd = /proc/self/fd/N, would put the program's cwd on the host
// (runc leaked a cgroup directory fd). For every N in 3..20 either create
// fails or the program cannot read a host file through "../".
func TestCVE2024_21626(t *testing.T) {
	e := newEnv(t)
	secret := "gocker-test-secret-" + randHex(8)
	secretPath := filepath.Join(e.dir, "host-secret")
	e.writeFile(secretPath, secret+"\n", 0o644)
	rel := strings.Repeat("../", 40) + strings.TrimPrefix(secretPath, "/")
	failed := 0
	for fd := 3; fd <= 20; fd++ {
		id := e.id("cve21626-" + strconv.Itoa(fd))
		b := e.bundle(id, chain(sh("cat "+rel+" 2>/dev/null; readlink /proc/self/cwd"), func(s *specs.Spec) {
			s.Process.Cwd = "/proc/self/fd/" + strconv.Itoa(fd)
		}))
		r := e.rt("run", "--bundle", b, id)
		if strings.Contains(r.stdout, secret) {
			t.Errorf("cwd /proc/self/fd/%d reaches the host filesystem: %s", fd, r)
		}
		if r.code != 0 {
			failed++
		}
	}
	t.Logf("%d of 18 creates refused the cwd", failed)
}

// TestCVE2021_30465: a mount destination swapped for a symlink to a host
// directory while the runtime mounts. A racer exchanges the destination
// directory and a symlink to a host dir in a loop during many creates; the
// prestart hook records the init's mountinfo. Nothing may ever be mounted
// on the host dir. The static case (the symlink there from the start) too.
func TestCVE2021_30465(t *testing.T) {
	e := newEnv(t)
	root := e.privateRootfs()
	target := e.hostDir("host-target")
	race := filepath.Join(root, "race")
	if err := os.MkdirAll(filepath.Join(race, "dst"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(race, "link")); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan int)
	go func() {
		n := 0
		for !stop.Load() {
			unix.Renameat2(unix.AT_FDCWD, filepath.Join(race, "dst"), unix.AT_FDCWD, filepath.Join(race, "link"), unix.RENAME_EXCHANGE)
			n++
		}
		done <- n
	}()
	created := 0
	for i := 0; i < 30; i++ {
		if e.createAndCheckLanding(root, target, "/race/dst") {
			created++
		}
	}
	stop.Store(true)
	t.Logf("%d exchanges, %d of 30 creates succeeded", <-done, created)
	// Static: the destination is a symlink to the host dir.
	os.Remove(filepath.Join(race, "dst"))
	os.RemoveAll(filepath.Join(race, "dst"))
	if err := os.Symlink(target, filepath.Join(race, "dst")); err != nil {
		t.Fatal(err)
	}
	e.createAndCheckLanding(root, target, "/race/dst")
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Errorf("host dir %s got entries %v", target, ents)
	}
}

// createAndCheckLanding creates a container on rootfs with a tmpfs at dest
// and fails the test if any mount of its init lands on the host dir.
func (e *env) createAndCheckLanding(rootfs, hostDir, dest string) bool {
	e.t.Helper()
	id := e.id("landing")
	mi := filepath.Join(e.dir, id+".mountinfo")
	b := e.bundle(id, chain(
		addMount(specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: []string{"size=64k"}}),
		func(s *specs.Spec) {
			s.Root.Path = rootfs
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{mountinfoHook(mi)}}
		}))
	r := e.rt("create", "--bundle", b, id)
	defer e.rt("delete", "--force", id)
	if r.code != 0 {
		return false
	}
	text, err := os.ReadFile(mi)
	if err != nil {
		e.t.Fatalf("prestart hook wrote no mountinfo: %v", err)
	}
	if m := mountsAt(string(text), hostDir); len(m) > 0 {
		e.t.Errorf("mounts landed on the host dir %s: %v", hostDir, m)
	}
	return true
}

// TestCVE2019_16884_19921: /proc must be procfs. A rootfs whose /proc is a
// symlink to a host dir must not get procfs mounted on the host dir, and a
// non-procfs mount on /proc (tmpfs, a bind of a host dir) is refused: the
// runtime's own writes to /proc would go to a fake.
func TestCVE2019_16884_19921(t *testing.T) {
	t.Run("symlink", func(t *testing.T) {
		e := newEnv(t)
		root := e.privateRootfs()
		target := e.hostDir("host-proc")
		os.Remove(filepath.Join(root, "proc"))
		if err := os.Symlink(target, filepath.Join(root, "proc")); err != nil {
			t.Fatal(err)
		}
		if e.createAndCheckLanding(root, target, "/dev/shm") && isGocker() {
			t.Error("gocker should refuse a /proc that is a symlink")
		}
	})
	fakes := map[string]specs.Mount{
		"tmpfs": {Destination: "/proc", Type: "tmpfs", Source: "tmpfs"},
		"bind":  {Destination: "/proc", Type: "bind", Source: "HOST", Options: []string{"rbind"}},
		"sys":   {Destination: "/proc/sys", Type: "bind", Source: "HOST", Options: []string{"rbind"}},
		"attr":  {Destination: "/proc/self/attr", Type: "bind", Source: "HOST", Options: []string{"rbind"}},
	}
	for name, m := range fakes {
		t.Run(name, func(t *testing.T) {
			crunDiffers(t, "crun 1.8 accepts a non-procfs mount on /proc and binds over /proc/sys and /proc/self/attr, which runc refuses (CVE-2019-19921)")
			e := newEnv(t)
			if m.Source == "HOST" {
				m.Source = e.hostDir("fake-proc")
			}
			id := e.id("fakeproc")
			b := e.bundle(id, func(s *specs.Spec) {
				if m.Destination == "/proc" {
					s.Mounts[0] = m // in place of the procfs mount
				} else {
					s.Mounts = append(s.Mounts, m)
				}
			})
			r := e.createMustFail(id, id, b)
			if isGocker() {
				e.wantErrText(r, "/proc")
			}
		})
	}
}

// TestCVE2025_31133: maskedPaths bind /dev/null over files. A
// createContainer hook (in the container's mount namespace, before the
// masking) replaces the container's /dev/null with a symlink to a file of
// a host bind mount. Masking must not bind that file over the masked path:
// create fails, or the masked file reads empty and writes go nowhere.
func TestCVE2025_31133(t *testing.T) {
	vulnerableRunc(t, "runc before 1.2.8/1.3.3 binds the symlink target")
	e := newEnv(t)
	rw := e.hostDir("rw")
	target := filepath.Join(rw, "target")
	e.writeFile(target, "gocker-test-target\n", 0o644)
	id := e.id("cve31133")
	b := e.bundle(id, chain(bindRW(rw, mntRW), sh("cat /mnt/masked/secret; echo overwritten > /mnt/masked/secret"), func(s *specs.Spec) {
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, mntMasked+"/secret")
		s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{
			shHook("rm -f " + sharedRootfs + "/dev/null && ln -s " + mntRW + "/target " + sharedRootfs + "/dev/null"),
		}}
	}))
	r := e.rt("run", "--bundle", b, id)
	if strings.Contains(r.stdout, "gocker-test-target") {
		t.Errorf("the masked path shows the symlink target: %s", r)
	}
	if got, _ := os.ReadFile(target); string(got) != "gocker-test-target\n" {
		t.Errorf("the host file behind the symlink was written: %q", got)
	}
	if isGocker() {
		if r.code == 0 {
			t.Errorf("gocker should refuse to mask with a /dev/null that is not the null device: %s", r)
		}
		e.wantErrText(r, "null device")
	}
}

// TestCVE2025_52565: with a terminal, the pty is bound to /dev/console. A
// createContainer hook makes /dev/console a symlink to a file of a host
// bind mount; the pty must not be mounted over that file.
func TestCVE2025_52565(t *testing.T) {
	vulnerableRunc(t, "runc before 1.2.8/1.3.3 mounts the pty over the symlink target")
	e := newEnv(t)
	rw := e.hostDir("rw")
	e.writeFile(filepath.Join(rw, "target"), "gocker-test-target\n", 0o644)
	cs := e.consoleSocket()
	id := e.id("cve52565")
	b := e.bundle(id, chain(bindRW(rw, mntRW),
		sh("if [ -c /mnt/rw/target ]; then echo redirected; else echo intact; fi > /mnt/rw/result"),
		func(s *specs.Spec) {
			s.Process.Terminal = true
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{
				shHook("ln -sf " + mntRW + "/target " + sharedRootfs + "/dev/console"),
			}}
		}))
	r := e.rt("create", "--bundle", b, "--console-socket", cs.path, id)
	if r.code == 0 {
		master := cs.wait(t)
		defer master.Close()
		e.ok(e.rt("start", id))
		e.waitStatus(id, "stopped", 10*time.Second)
		res, _ := os.ReadFile(filepath.Join(rw, "result"))
		if strings.TrimSpace(string(res)) != "intact" {
			t.Errorf("inside the container the symlink target is %q (want intact)", res)
		}
	} else if isGocker() {
		e.wantErrText(r, "symlink")
	}
	if isGocker() && r.code == 0 {
		t.Errorf("gocker should refuse a /dev/console symlink: %s", r)
	}
}

// TestCVE2025_52881: the runtime's procfs writes (here a sysctl) must land
// in the file they name. Redirections: a config bind of another procfs
// file over the sysctl (allowed: its source is procfs), and a
// createContainer hook binding a host file over it (what a racing mount
// would do). The write must fail rather than go elsewhere.
func TestCVE2025_52881(t *testing.T) {
	const value = "gocker-test-redirect"
	t.Run("procfs-bind", func(t *testing.T) {
		e := newEnv(t)
		id := e.id("cve52881a")
		b := e.bundle(id, chain(sh("hostname"),
			addMount(specs.Mount{Destination: "/proc/sys/kernel/domainname", Type: "bind",
				Source: "/proc/sys/kernel/hostname", Options: []string{"bind"}}),
			func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.domainname": value} }))
		r := e.rt("run", "--bundle", b, id)
		if strings.Contains(r.stdout, value) {
			t.Errorf("the domainname sysctl was written to the hostname: %s", r)
		}
		if isGocker() {
			if r.code == 0 {
				t.Errorf("gocker should refuse to write a sysctl through a mount: %s", r)
			}
			e.wantErrText(r, "mount on its path")
		}
	})
	t.Run("hook-bind", func(t *testing.T) {
		vulnerableRunc(t, "runc before 1.2.8/1.3.3 writes sysctls through overmounts")
		e := newEnv(t)
		victim := filepath.Join(e.dir, "victim")
		e.writeFile(victim, "untouched\n", 0o644)
		id := e.id("cve52881b")
		b := e.bundle(id, chain(withArgs("true"), func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.domainname": value}
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{
				shHook("mount --bind " + victim + " " + sharedRootfs + "/proc/sys/kernel/domainname"),
			}}
		}))
		r := e.rt("run", "--bundle", b, id)
		if got, _ := os.ReadFile(victim); string(got) != "untouched\n" {
			t.Errorf("the sysctl write went to the host file: %q (%s)", got, r)
		}
		if isGocker() {
			if r.code == 0 {
				t.Errorf("gocker should refuse the redirected sysctl: %s", r)
			}
			e.wantErrText(r, "kernel.domainname")
		}
	})
}

// TestCVE2022_29162: the inheritable set is exactly the config's, empty
// when the config has none, with and without no_new_privs, root or not.
func TestCVE2022_29162(t *testing.T) {
	cases := []struct {
		name       string
		user       specs.User
		inh        []string
		nnp        bool
		inh0, amb0 string
	}{
		{"root-none", specs.User{}, nil, false, "0000000000000000", "0000000000000000"},
		{"root-kill", specs.User{}, []string{"CAP_KILL"}, false, "0000000000000020", "0000000000000000"},
		{"user-none", specs.User{UID: 1000, GID: 1000}, nil, false, "0000000000000000", "0000000000000000"},
		{"user-none-nnp", specs.User{UID: 1000, GID: 1000}, nil, true, "0000000000000000", "0000000000000000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			out := e.runScript("cat /proc/self/status", func(s *specs.Spec) {
				all := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
				s.Process.User = c.user
				s.Process.NoNewPrivileges = c.nnp
				s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all, Inheritable: c.inh}
			})
			got := procStatus(out, "CapInh", "CapAmb")
			if got["CapInh"] != c.inh0 || got["CapAmb"] != c.amb0 {
				t.Errorf("CapInh %q CapAmb %q, want %q %q", got["CapInh"], got["CapAmb"], c.inh0, c.amb0)
			}
		})
	}
}

// TestMaskedReadonlyStick: without CAP_SYS_ADMIN the container cannot
// unmount masks or remount read-only paths read-write.
func TestMaskedReadonlyStick(t *testing.T) {
	e := newEnv(t)
	script := `umount /proc/kcore 2>/dev/null && echo umount-kcore-ok
umount /mnt/masked 2>/dev/null && echo umount-masked-ok
umount -l /mnt/masked 2>/dev/null && echo umount-lazy-ok
mount -o remount,rw /proc/sys 2>/dev/null && echo remount-ok
mount -o remount,bind,rw /proc/sys 2>/dev/null && echo remount-bind-ok
mount -t proc proc /mnt/rw 2>/dev/null && echo newproc-ok
echo gocker > /proc/sys/kernel/hostname 2>/dev/null && echo write-sys-ok
cat /mnt/masked/secret 2>/dev/null
grep -c . /proc/kcore 2>/dev/null
echo done`
	out := e.runScript(script, func(s *specs.Spec) {
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, mntMasked)
	})
	if strings.Contains(out, "-ok") || strings.Contains(out, "secret") || !strings.Contains(out, "done") {
		t.Errorf("masks or read-only paths undone from inside:\n%s", out)
	}
}
