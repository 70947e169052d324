package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Rootless mode: the runtime run by an unprivileged user (nobody), with
// state under $XDG_RUNTIME_DIR, on a bundle written by `spec --rootless`.
// The harness runs everything as root, so these tests have their own
// runner, which runs the runtime as that user without --root.

const (
	nobodyUID = 65534
	nobodyGID = 65534
)

// rlEnv is one rootless test's world: a directory the user owns holding
// its XDG_RUNTIME_DIR and bundles, and the containers to clean up.
type rlEnv struct {
	t   *testing.T
	dir string // owned by the user, 0755
	xdg string // XDG_RUNTIME_DIR, owned by the user, 0700
	n   int
	ids []string
	pid []procID
}

func newRootlessEnv(t *testing.T) *rlEnv {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if why := unprivUserNSDisabled(); why != "" {
		t.Skip("unprivileged user namespaces are disabled: " + why)
	}
	dir, err := os.MkdirTemp("", "gocker-test-rl-")
	if err != nil {
		t.Fatal(err)
	}
	u := &rlEnv{t: t, dir: dir, xdg: filepath.Join(dir, "xdg")}
	t.Cleanup(u.cleanup)
	if err := os.Mkdir(u.xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, u.xdg} {
		if err := os.Chown(p, nobodyUID, nobodyGID); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return u
}

// unprivUserNSDisabled says why an unprivileged user cannot make a user
// namespace here, or "" when it can: Debian's knob, the namespace limit,
// then a real attempt as nobody.
func unprivUserNSDisabled() string {
	for _, f := range []string{"/proc/sys/kernel/unprivileged_userns_clone", "/proc/sys/user/max_user_namespaces"} {
		if b, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(b)) == "0" {
			return f + " is 0"
		}
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return "" // no probe tool; the tests will tell
	}
	cmd := exec.Command(unshare, "--user", "--map-root-user", "true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyUID, Gid: nobodyGID, Groups: []uint32{}}}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Sprintf("unshare --user as uid %d: %v: %s", nobodyUID, err, bytes.TrimSpace(out))
	}
	return ""
}

// rtAs runs the runtime as the unprivileged user, without --root, with
// stdio in files (a created container keeps them open).
func (u *rlEnv) rtAs(env []string, dir string, args ...string) result {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, runtimePath, args...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + u.dir, "USER=nobody", leakCanary}, env...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyUID, Gid: nobodyGID, Groups: []uint32{}}}
	outF, err := os.CreateTemp(u.dir, "stdout-*")
	if err != nil {
		u.t.Fatal(err)
	}
	errF, err := os.CreateTemp(u.dir, "stderr-*")
	if err != nil {
		u.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outF, errF
	start := time.Now()
	err = cmd.Run()
	r := result{args: append([]string{runtimeName}, args...), elapsed: time.Since(start), code: -1}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		r.err = fmt.Errorf("timed out after %v", defaultTimeout)
	} else if err != nil && !errors.As(err, new(*exec.ExitError)) {
		r.err = err
	}
	r.stdout, r.stderr = readClose(outF), readClose(errF)
	os.Remove(outF.Name())
	os.Remove(errF.Name())
	return r
}

// rt runs the runtime as the user with XDG_RUNTIME_DIR set.
func (u *rlEnv) rt(args ...string) result {
	u.t.Helper()
	return u.rtAs([]string{"XDG_RUNTIME_DIR=" + u.xdg}, u.dir, args...)
}

func (u *rlEnv) ok(r result) result {
	u.t.Helper()
	if r.code != 0 || r.err != nil {
		u.t.Fatalf("runtime call as uid %d failed: %s", nobodyUID, r)
	}
	return r
}

func (u *rlEnv) fails(r result) result {
	u.t.Helper()
	if r.err != nil || r.code == 0 {
		u.t.Fatalf("runtime call as uid %d: want a failure: %s", nobodyUID, r)
	}
	return r
}

func (u *rlEnv) id(name string) string {
	id := "gocker-test-rl-" + name + "-" + randHex(4)
	u.ids = append(u.ids, id)
	return id
}

// bundle runs `spec --rootless` as the user in a fresh bundle dir, then
// sets the process to sh -c script (no terminal) and the root to the
// shared rootfs (read-only, readable by anyone), and returns the dir and
// the spec the runtime wrote.
func (u *rlEnv) bundle(script string, mod func(*specs.Spec)) (string, *specs.Spec) {
	u.t.Helper()
	u.n++
	dir := filepath.Join(u.dir, fmt.Sprintf("bundle%d", u.n))
	if err := os.Mkdir(dir, 0o755); err != nil {
		u.t.Fatal(err)
	}
	if err := os.Chown(dir, nobodyUID, nobodyGID); err != nil {
		u.t.Fatal(err)
	}
	u.ok(u.rtAs(nil, dir, "spec", "--rootless"))
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		u.t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		u.t.Fatalf("spec --rootless wrote bad JSON: %v", err)
	}
	written := s
	s.Process.Terminal = false
	s.Process.Args = []string{"sh", "-c", script}
	s.Root = &specs.Root{Path: sharedRootfs, Readonly: true}
	if mod != nil {
		mod(&s)
	}
	out, err := json.Marshal(&s)
	if err != nil {
		u.t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		u.t.Fatal(err)
	}
	return dir, &written
}

// stateAs runs `state id` as the user and parses it.
func (u *rlEnv) stateAs(id string) (ociState, result) {
	u.t.Helper()
	r := u.rt("state", id)
	var st ociState
	if r.code == 0 {
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			u.t.Fatalf("state output is not JSON: %v: %s", err, r)
		}
		if st.Pid > 0 {
			if _, start, ok := procStat(st.Pid); ok {
				u.pid = append(u.pid, procID{st.Pid, start})
			}
		}
	}
	return st, r
}

func (u *rlEnv) wantStatus(id, want string) ociState {
	u.t.Helper()
	st, r := u.stateAs(id)
	if r.code != 0 || st.Status != want {
		u.t.Fatalf("container %s: status %q, want %q: %s", id, st.Status, want, r)
	}
	return st
}

// stateDirs lists the runtime's state root(s) under XDG_RUNTIME_DIR and
// what each holds. Each runtime names its own root ($XDG_RUNTIME_DIR/gocker,
// /runc, /crun).
func (u *rlEnv) stateDirs() map[string][]string {
	out := map[string][]string{}
	roots, _ := os.ReadDir(u.xdg)
	for _, r := range roots {
		if !r.IsDir() {
			continue
		}
		ents, _ := os.ReadDir(filepath.Join(u.xdg, r.Name()))
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		out[r.Name()] = names
	}
	return out
}

// containerDir finds id's state directory under XDG_RUNTIME_DIR.
func (u *rlEnv) containerDir(id string) string {
	for root, names := range u.stateDirs() {
		for _, n := range names {
			if n == id {
				return filepath.Join(u.xdg, root, n)
			}
		}
	}
	return ""
}

// cleanup deletes what the test made, as the user, then checks that no
// state, process or cgroup is left, and removes the directory.
func (u *rlEnv) cleanup() {
	for _, id := range u.ids {
		u.rt("delete", "--force", id)
	}
	var leaks []string
	waitFor(10*time.Second, func() bool {
		leaks = nil
		for root, names := range u.stateDirs() {
			for _, n := range names {
				leaks = append(leaks, "state "+filepath.Join(u.xdg, root, n))
			}
		}
		for _, p := range u.pid {
			if p.alive() {
				leaks = append(leaks, fmt.Sprintf("process %d", p.pid))
			}
		}
		for _, id := range u.ids {
			leaks = append(leaks, cgroupLeaks(id)...)
		}
		return len(leaks) == 0
	})
	for _, l := range leaks {
		u.t.Errorf("leak after rootless test: %s", l)
	}
	for _, p := range u.pid {
		if p.alive() {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	if err := os.RemoveAll(u.dir); err != nil {
		u.t.Errorf("remove %s: %v", u.dir, err)
	}
}

// TestRootlessSpec checks what `spec --rootless` writes for the user: a
// new user namespace mapping container root to the caller's own ids only.
func TestRootlessSpec(t *testing.T) {
	if runtimeName == "crun" {
		t.Skip("crun spec --rootless writes no mappings (crun maps the caller's ids at run time) and keeps the network namespace")
	}
	u := newRootlessEnv(t)
	_, s := u.bundle("true", nil)
	want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: nobodyUID, Size: 1}}
	if fmt.Sprint(s.Linux.UIDMappings) != fmt.Sprint(want) {
		t.Errorf("uidMappings %v, want %v", s.Linux.UIDMappings, want)
	}
	if want[0].HostID = nobodyGID; fmt.Sprint(s.Linux.GIDMappings) != fmt.Sprint(want) {
		t.Errorf("gidMappings %v, want %v", s.Linux.GIDMappings, want)
	}
	var user bool
	for _, ns := range s.Linux.Namespaces {
		user = user || (ns.Type == specs.UserNamespace && ns.Path == "")
		if ns.Type == specs.NetworkNamespace {
			t.Errorf("rootless spec has a network namespace")
		}
	}
	if !user {
		t.Errorf("rootless spec has no new user namespace: %v", s.Linux.Namespaces)
	}
}

// TestRootlessRun: `run` as nobody; inside, the process is root of a user
// namespace that maps only nobody. The state lived under XDG_RUNTIME_DIR
// and is gone afterwards.
func TestRootlessRun(t *testing.T) {
	u := newRootlessEnv(t)
	id := u.id("run")
	b, _ := u.bundle(`id; cat /proc/self/uid_map /proc/self/gid_map; cat /proc/self/setgroups`, nil)
	r := u.ok(u.rt("run", "--bundle", b, id))
	lines := strings.Split(squash(r.stdout), "\n")
	want := []string{"uid=0(root) gid=0(root)", "0 65534 1", "0 65534 1", "deny"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("container output %q, want %q", lines, want)
	}
	dirs := u.stateDirs()
	if len(dirs) != 1 {
		t.Fatalf("want one state root under XDG_RUNTIME_DIR, found %v", dirs)
	}
	for root, names := range dirs {
		if len(names) != 0 {
			t.Errorf("run left state in %s: %v", root, names)
		}
		fi, err := os.Stat(filepath.Join(u.xdg, root))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobodyUID {
			t.Errorf("state root %s is owned by uid %d, want %d", root, st.Uid, nobodyUID)
		}
	}
}

// TestRootlessLifecycle: create, start, state, kill and delete as nobody,
// with the state in XDG_RUNTIME_DIR. The init runs as nobody on the host.
func TestRootlessLifecycle(t *testing.T) {
	u := newRootlessEnv(t)
	id := u.id("life")
	b, _ := u.bundle("sleep 1000", nil)
	u.ok(u.rt("create", "--bundle", b, id))
	st := u.wantStatus(id, "created")
	if st.Pid <= 0 || st.Bundle != b {
		t.Fatalf("state after create: %+v", st)
	}
	dir := u.containerDir(id)
	if dir == "" {
		t.Fatalf("no state directory for %s under XDG_RUNTIME_DIR: %v", id, u.stateDirs())
	}
	status := procStatus(readProc(t, st.Pid, "status"), "Uid", "Gid")
	if status["Uid"] != "65534 65534 65534 65534" || status["Gid"] != "65534 65534 65534 65534" {
		t.Errorf("init seen from the host: Uid %q Gid %q, want nobody's", status["Uid"], status["Gid"])
	}
	u.ok(u.rt("start", id))
	u.wantStatus(id, "running")
	u.ok(u.rt("kill", id, "KILL"))
	if !waitFor(10*time.Second, func() bool {
		s, r := u.stateAs(id)
		return r.code == 0 && s.Status == "stopped"
	}) {
		t.Fatalf("container did not stop after kill")
	}
	u.ok(u.rt("delete", id))
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir %s after delete: %v", dir, err)
	}
	if r := u.rt("state", id); r.code == 0 {
		t.Errorf("state after delete succeeded: %s", r)
	}
}

// TestRootlessRefused: what an unprivileged user cannot have fails at
// create, with a clear error and nothing left behind.
func TestRootlessRefused(t *testing.T) {
	u := newRootlessEnv(t)
	cases := []struct {
		name string
		mod  func(*specs.Spec)
		want []string // gocker's wording
		skip string
	}{
		{"other-uids", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, []string{"rootless: ", "uidMappings", "own uid 65534"}, ""},
		{"no-userns", func(s *specs.Spec) {
			var nss []specs.LinuxNamespace
			for _, ns := range s.Linux.Namespaces {
				if ns.Type != specs.UserNamespace {
					nss = append(nss, ns)
				}
			}
			s.Linux.Namespaces = nss
			s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
		}, []string{"rootless: ", "no user namespace"}, onCrun("crun adds a user namespace to a rootless config that has none")},
		{"unmapped-mount-gid", func(s *specs.Spec) {
			for i := range s.Mounts {
				if s.Mounts[i].Destination == "/dev/pts" {
					s.Mounts[i].Options = append(s.Mounts[i].Options, "gid=5")
				}
			}
		}, []string{"rootless: ", "/dev/pts", "gid=5"}, ""},
		{"additional-gids", func(s *specs.Spec) {
			s.Process.User.AdditionalGids = []uint32{0}
		}, []string{"rootless: ", "additionalGids"}, onCrun("crun 1.8 runs the process without the groups it cannot set")},
		{"cgroup-limits", func(s *specs.Spec) {
			limit := int64(100)
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
		}, []string{"rootless: ", "linux.resources", "cgroup"},
			cgroupWritableByNobody() + onCrun("crun 1.8 runs a rootless container without the cgroup it cannot create, limits and all")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.skip != "" {
				t.Skip(c.skip)
			}
			id := u.id(c.name)
			b, _ := u.bundle("echo ran", c.mod)
			r := u.fails(u.rt("run", "--bundle", b, id))
			if strings.Contains(r.stdout, "ran") {
				t.Errorf("the container's process ran: %s", r)
			}
			if isGocker() {
				for _, w := range c.want {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("error does not mention %q: %s", w, r)
					}
				}
			}
			if d := u.containerDir(id); d != "" {
				t.Errorf("failed run left %s", d)
			}
			for _, l := range cgroupLeaks(id) {
				t.Errorf("failed run left %s", l)
			}
		})
	}
}

// onCrun is why a case is skipped on crun, which deviates there.
func onCrun(why string) string {
	if runtimeName == "crun" {
		return why
	}
	return ""
}

// cgroupWritableByNobody returns a reason to skip the cgroup-limits case
// when this host delegates cgroups to the user (then the limits work).
func cgroupWritableByNobody() string {
	for _, p := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid == nobodyUID || fi.Mode().Perm()&0o002 != 0 {
			return p + " is writable by uid 65534"
		}
		return ""
	}
	return ""
}

// TestRootlessNoXDGRuntimeDir: without XDG_RUNTIME_DIR and --root there is
// no state dir to use; gocker says so (runc falls back to /run/runc and
// fails on its permissions). `spec` still works.
func TestRootlessNoXDGRuntimeDir(t *testing.T) {
	gockerOnly(t, "runc falls back to /run/runc and reports EACCES")
	u := newRootlessEnv(t)
	r := u.fails(u.rtAs(nil, u.dir, "state", "gocker-test-rl-none"))
	if !strings.Contains(r.stderr, "XDG_RUNTIME_DIR") || !strings.Contains(r.stderr, "--root") {
		t.Errorf("error does not explain XDG_RUNTIME_DIR/--root: %s", r)
	}
	u.ok(u.rtAs(nil, u.dir, "spec", "--rootless"))
	root := filepath.Join(u.dir, "root")
	u.ok(u.rtAs(nil, u.dir, "--root", root, "list"))
	if r := u.rt("--rootless", "maybe", "list"); r.code == 0 || !strings.Contains(r.stderr, "--rootless") {
		t.Errorf("--rootless maybe: %s", r)
	}
}

// TestUserNamespaceBundleIn0700Dir: root runs a container whose root maps
// to host uid 100000 from a bundle in a 0700 root-owned directory, which
// that uid cannot search. The init must get its rootfs from the parent
// instead of walking the path.
func TestUserNamespaceBundleIn0700Dir(t *testing.T) {
	gockerOnly(t, "runc 1.1 binds the rootfs by path from inside the user namespace: EACCES")
	e := newEnv(t)
	private := filepath.Join(e.dir, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(private, "bundle")
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.Mkdir(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", sharedRootfs, rootfs).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	// The premise: the container's uid cannot reach the rootfs by path.
	probe := exec.Command("/bin/busybox", "ls", rootfs)
	probe.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 100000, Gid: 100000, Groups: []uint32{}}}
	if out, err := probe.CombinedOutput(); err == nil {
		t.Fatalf("uid 100000 can list %s; the test proves nothing: %s", rootfs, out)
	}
	for _, extra := range [][]string{nil, {"--no-pivot"}} {
		t.Run(strings.Join(append([]string{"create"}, extra...), " "), func(t *testing.T) {
			runBundleIn0700Dir(t, newEnv(t), bundle, extra)
		})
	}
}

// runBundleIn0700Dir creates, starts and deletes a container on bundle,
// whose root maps to host uid 100000.
func runBundleIn0700Dir(t *testing.T, e *env, bundle string, extra []string) {
	id := e.id("userns0700")
	s := defaultSpec()
	s.Linux.CgroupsPath = "/" + e.cgroupName(id)
	s.Root = &specs.Root{Path: "rootfs", Readonly: true}
	s.Process.Args = []string{"sh", "-c", "id -u; cat /proc/self/uid_map; ls /etc/passwd; sleep 1000"}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Mounts = s.Mounts[:len(s.Mounts)-1] // no cgroup v1 mount, as TestUserNamespace
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	e.writeFile(filepath.Join(bundle, "config.json"), string(data), 0o644)
	out := e.create(id, bundle, extra...)
	st := e.wantStatus(id, "created")
	if got := procStatus(readProc(t, st.Pid, "status"), "Uid")["Uid"]; got != "100000 100000 100000 100000" {
		t.Errorf("init's host uid %q, want 100000", got)
	}
	e.ok(e.rt("start", id))
	text := e.waitFileContains(out, "/etc/passwd", defaultTimeout)
	lines := strings.Split(squash(text), "\n")
	want := []string{"0", "0 100000 65536", "/etc/passwd"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("container output %q, want %q", lines, want)
	}
	e.ok(e.rt("delete", "--force", id))
	e.wantGone(id)
}

// TestRootlessSysfs: a rootless container sharing the host's network
// namespace cannot mount a fresh sysfs (the kernel wants CAP_SYS_ADMIN
// over the network namespace's owner); a config that asks for one gets
// the host's /sys bound instead, read-only as asked on every mount of the
// tree, as crun does.
func TestRootlessSysfs(t *testing.T) {
	if runtimeName == "runc" {
		t.Skip("runc 1.1 fails the sysfs mount with EPERM")
	}
	u := newRootlessEnv(t)
	id := u.id("sysfs")
	b, _ := u.bundle(`grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ /sys(/| )' /proc/self/mountinfo`, func(s *specs.Spec) {
		var mounts []specs.Mount
		for _, m := range s.Mounts {
			switch m.Destination {
			case "/sys":
				m = specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs",
					Options: []string{"nosuid", "noexec", "nodev", "ro"}}
			case "/sys/fs/cgroup":
				continue
			}
			mounts = append(mounts, m)
		}
		s.Mounts = mounts
	})
	r := u.ok(u.rt("run", "--bundle", b, id))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	// mountinfo: ID parent dev root mountpoint options ... - fstype source superoptions
	f := strings.Fields(lines[0])
	if len(f) < 9 || f[4] != "/sys" || f[len(f)-3] != "sysfs" {
		t.Fatalf("/sys is not sysfs: %q", r.stdout)
	}
	if opts := "," + f[5] + ","; !strings.Contains(opts, ",nosuid,") {
		t.Errorf("/sys mount options %q, want nosuid", f[5])
	}
	// Without the config's cgroup mount, everything below /sys is the
	// host's (cgroup hierarchies on this host), and must be read-only too.
	for _, l := range lines {
		if f := strings.Fields(l); len(f) < 6 || !strings.Contains(","+f[5]+",", ",ro,") {
			t.Errorf("not read-only: %q", l)
		}
	}
}

// TestRootlessExec: an unprivileged user execs into its own container: the
// process joins the container's user namespace first, then the others, and
// lands in the container's pid namespace (it sees the init as pid 1), with
// the container's hostname; exit codes and signals come back as for root.
func TestRootlessExec(t *testing.T) {
	u := newRootlessEnv(t)
	id := u.id("exec")
	b, _ := u.bundle("sleep 1000", nil)
	u.ok(u.rt("run", "-d", "--bundle", b, id))
	st := u.wantStatus(id, "running")
	r := u.ok(u.rt("exec", id, "sh", "-c", "id -u; cat /proc/1/cmdline | tr '\\0' ' '; echo; readlink /proc/self/ns/pid"))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || lines[0] != "0" || !strings.HasPrefix(lines[1], "sleep 1000") {
		t.Fatalf("exec output %q: want uid 0 and the init (sleep) as pid 1", r.stdout)
	}
	initNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if lines[2] != initNS {
		t.Errorf("exec pid namespace %s, init's %s", lines[2], initNS)
	}
	if r := u.rt("exec", id, "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("exec exit code %d, want 7: %s", r.code, r)
	}
	if r := u.rt("exec", id, "sh", "-c", "kill -TERM $$"); r.code != 143 {
		t.Errorf("exec killed by TERM: exit %d, want 143: %s", r.code, r)
	}
	u.ok(u.rt("delete", "--force", id))
}

// TestRootlessNoCgroupVerbs: a rootless container that asked for no
// cgroup runs in its caller's cgroup. ps lists the processes of its pid
// namespace instead; pause, update and events, which need a cgroup of its
// own, fail saying so, and the container runs on. runc fails ps too
// ("unable to get all container pids") and prints zeros for events.
func TestRootlessNoCgroupVerbs(t *testing.T) {
	crunDiffers(t, "crun 1.8.1 update does not parse size suffixes (--memory 100M)")
	u := newRootlessEnv(t)
	id := u.id("nocg")
	b, _ := u.bundle("sleep 1000 & exec sleep 1001", nil)
	u.ok(u.rt("create", "--bundle", b, id))
	u.ok(u.rt("start", id))
	st := u.wantStatus(id, "running")
	for _, args := range [][]string{{"pause", id}, {"update", "--memory", "100M", id}} {
		r := u.fails(u.rt(args...))
		if !strings.Contains(r.stderr, "cgroup") {
			t.Errorf("%v: the error does not say why: %s", args, r)
		}
	}
	u.wantStatus(id, "running")
	if isGocker() {
		if r := u.rt("events", "--stats", id); r.code == 0 || !strings.Contains(r.stderr, "without a cgroup") {
			t.Errorf("events --stats: want an error naming the missing cgroup, got %s", r)
		}
		var pids []int
		if !waitFor(5*time.Second, func() bool {
			r := u.ok(u.rt("ps", "--format", "json", id))
			pids = nil
			return json.Unmarshal([]byte(r.stdout), &pids) == nil && len(pids) == 2
		}) {
			t.Fatalf("ps --format json = %v, want the init and its child", pids)
		}
		if !slices.Contains(pids, st.Pid) {
			t.Errorf("ps lists %v, not the init %d", pids, st.Pid)
		}
		for _, p := range pids {
			if cmd := readProc(t, p, "cmdline"); !strings.HasPrefix(cmd, "sleep") {
				t.Errorf("ps lists pid %d running %q, not a container process", p, cmd)
			}
		}
	}
	u.ok(u.rt("delete", "--force", id))
}
