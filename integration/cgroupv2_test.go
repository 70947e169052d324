package integration

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Tests of the cgroup v2 paths: the values written into the unified
// hierarchy's files, linux.resources.unified, the eBPF device filter and
// cgroup.kill. This machine is cgroup v1 hybrid, so they skip here and run
// inside the VM of `make test-cgroupv2` (integration/cgroupv2/).

const v2Root = "/sys/fs/cgroup"

const v2MiB = 1 << 20

// requireV2 skips unless the host runs the pure cgroup v2 hierarchy:
// cgroup.controllers exists only at the root of a cgroup2 mount
// (Documentation/admin-guide/cgroup-v2.rst), and on a hybrid host that
// mount is /sys/fs/cgroup/unified, not /sys/fs/cgroup.
func requireV2(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if _, err := os.Stat(filepath.Join(v2Root, "cgroup.controllers")); err != nil {
		t.Skipf("needs a pure cgroup v2 host (%v): this host is cgroup v1 or hybrid; `make test-cgroupv2` runs this test in a VM", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(v2Root, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Fatalf("%s has cgroup.controllers but is not a cgroup2 mount (statfs type %#x, %v)", v2Root, st.Type, err)
	}
}

// requireV2Controller skips when the v2 root does not offer controller c.
func requireV2Controller(t *testing.T, c string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(v2Root, "cgroup.controllers"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(string(b)), c) {
		t.Skipf("the %s controller is not available (cgroup.controllers: %q)", c, strings.TrimSpace(string(b)))
	}
}

// v2File reads a file of the cgroup at path (relative to the v2 root).
func v2File(t *testing.T, path, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(v2Root, path, file))
	if err != nil {
		t.Fatalf("read cgroup file: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// v2WantFiles checks each file of the cgroup holds the expected value.
func v2WantFiles(t *testing.T, path string, want map[string]string) {
	t.Helper()
	for _, f := range slices.Sorted(maps.Keys(want)) {
		if got := v2File(t, path, f); got != want[f] {
			t.Errorf("%s/%s = %q, want %q", path, f, got, want[f])
		}
	}
}

// v2Pids lists the processes in the cgroup itself (cgroup.procs).
func v2Pids(t *testing.T, path string) []int {
	t.Helper()
	var pids []int
	for f := range strings.FieldsSeq(v2File(t, path, "cgroup.procs")) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("cgroup.procs of %s: %v", path, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

func v2Exists(path string) bool {
	_, err := os.Stat(filepath.Join(v2Root, path))
	return err == nil
}

// v2WantGone fails unless the cgroup directory is gone.
func v2WantGone(t *testing.T, path string) {
	t.Helper()
	if v2Exists(path) {
		t.Errorf("cgroup %s still exists after delete", path)
	}
}

func v2Res(mod func(*specs.LinuxResources)) func(*specs.Spec) {
	return func(s *specs.Spec) { mod(s.Linux.Resources) }
}

// v2ReadOut waits for the container's output file to hold marker and returns
// its lines.
func (e *env) v2ReadOut(out, marker string) []string {
	e.t.Helper()
	text := e.waitFileContains(out, marker, 20*time.Second)
	return strings.Split(strings.TrimSpace(text), "\n")
}

// TestCgroupV2Limits: the typed linux.resources fields land in the v2
// files under their v2 names and units (the library's conversions:
// cpu.shares 512 -> cpu.weight 59 on the curve through 2->1, 1024->100 and
// 262144->10000; memory.swap is memory+swap so memory.swap.max gets
// the difference), and the container sees its own cgroup at
// /sys/fs/cgroup (a bind of its directory when it has no cgroup namespace).
func TestCgroupV2Limits(t *testing.T) {
	requireV2(t)
	for _, c := range []string{"memory", "cpu", "pids", "cpuset"} {
		requireV2Controller(t, c)
	}
	e := newEnv(t)
	id := e.id("v2limits")
	script := `cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max /proc/self/cgroup; echo done`
	out := e.create(id, e.bundle(id, chain(sh(script), v2Res(func(r *specs.LinuxResources) {
		r.Memory = &specs.LinuxMemory{Limit: ptr[int64](64 * v2MiB), Reservation: ptr[int64](32 * v2MiB), Swap: ptr[int64](96 * v2MiB)}
		r.CPU = &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000),
			Cpus: "0", Mems: "0"}
		r.Pids = &specs.LinuxPids{Limit: ptr[int64](20)}
	}))))
	st := e.wantStatus(id, "created")
	want := map[string]string{
		"memory.max": strconv.Itoa(64 * v2MiB), "memory.low": strconv.Itoa(32 * v2MiB),
		"cpu.weight": "59", "cpu.max": "50000 100000", "pids.max": "20",
		"cpuset.cpus": "0", "cpuset.mems": "0",
	}
	if _, err := os.Stat(filepath.Join(v2Root, id, "memory.swap.max")); err == nil {
		want["memory.swap.max"] = strconv.Itoa(32 * v2MiB)
	}
	v2WantFiles(t, id, want)
	if pids := v2Pids(t, id); !slices.Contains(pids, st.Pid) {
		t.Errorf("init %d is not in cgroup %s (cgroup.procs %v)", st.Pid, id, pids)
	}
	e.ok(e.rt("start", id))
	got := e.v2ReadOut(out, "done")
	e.waitStatus(id, "stopped", 10*time.Second)
	e.ok(e.rt("delete", id))
	v2WantGone(t, id)
	wantLines := []string{strconv.Itoa(64 * v2MiB), "20", "50000 100000", "0::/" + id, "done"}
	if strings.Join(got, "|") != strings.Join(wantLines, "|") {
		t.Errorf("inside the container:\n got %q\nwant %q", got, wantLines)
	}
}

// TestCgroupV2Namespace: with a cgroup namespace the container's cgroup is
// its root ("0::/" in /proc/self/cgroup, runtime-spec config-linux.md
// "cgroup" namespace), /sys/fs/cgroup is a cgroup2 mount of it showing
// only its own files, and the mount is read-only as configured.
func TestCgroupV2Namespace(t *testing.T) {
	requireV2(t)
	requireV2Controller(t, "memory")
	e := newEnv(t)
	got := e.runLines(`cat /proc/self/cgroup /sys/fs/cgroup/memory.max
ls /sys/fs/cgroup | grep -c gocker-test
grep ' /sys/fs/cgroup ' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1
(echo 1 > /sys/fs/cgroup/memory.max) 2>/dev/null && echo writable || echo read-only`,
		chain(func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		}, v2Res(func(r *specs.LinuxResources) {
			r.Memory = &specs.LinuxMemory{Limit: ptr[int64](48 * v2MiB)}
		})))
	want := []string{"0::/", strconv.Itoa(48 * v2MiB), "0", "cgroup2", "read-only"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("cgroup namespace view:\n got %q\nwant %q", got, want)
	}
}

// TestCgroupV2Unified: linux.resources.unified writes each key to the file
// of that name (runtime-spec config-linux.md "Unified"), after the typed
// fields, so a unified key wins over the field it overlaps (runc's order).
// An unknown key is refused and the container is not created.
func TestCgroupV2Unified(t *testing.T) {
	requireV2(t)
	for _, c := range []string{"memory", "pids", "cpu"} {
		requireV2Controller(t, c)
	}
	e := newEnv(t)
	id := e.id("v2unified")
	e.create(id, e.bundle(id, v2Res(func(r *specs.LinuxResources) {
		r.Memory = &specs.LinuxMemory{Limit: ptr[int64](64 * v2MiB)}
		r.Unified = map[string]string{
			"memory.high":      strconv.Itoa(40 * v2MiB),
			"memory.max":       strconv.Itoa(56 * v2MiB),
			"memory.oom.group": "1",
			"pids.max":         "13",
			"cpu.weight":       "77",
			"cpu.max":          "20000 50000",
		}
	})))
	v2WantFiles(t, id, map[string]string{
		"memory.high": strconv.Itoa(40 * v2MiB), "memory.max": strconv.Itoa(56 * v2MiB),
		"memory.oom.group": "1", "pids.max": "13", "cpu.weight": "77", "cpu.max": "20000 50000",
	})
	e.ok(e.rt("delete", id))
	v2WantGone(t, id)

	bad := e.id("v2unified-bad")
	r := e.createMustFail(bad, bad, e.bundle(bad, v2Res(func(r *specs.LinuxResources) {
		r.Unified = map[string]string{"memory.gocker_no_such_file": "1"}
	})))
	e.wantErrText(r, "memory.gocker_no_such_file")
}

// v2DevScript reports, one line per path, whether the container can
// open it for writing. A subshell, so a failed redirection does not end
// the script (POSIX: it would for the special builtin exec).
const v2DevScript = `for d in "$@"; do
  if err=$( (exec 3>"$d") 2>&1); then echo "$d ok"; else
    case $err in *"not permitted"*) echo "$d denied";; *) echo "$d error: $err";; esac
  fi
done`

// v2DevFilter runs v2DevScript over paths in a container that has
// /dev/gocker-kmsg (c 1:11, /dev/kmsg: opening it write-only needs no
// capability, drivers/char/mem.c devkmsg_open) and the given device rules
// after the default deny-all.
func (e *env) v2DevFilter(rules []specs.LinuxDeviceCgroup, mods func(*specs.Spec), paths ...string) []string {
	e.t.Helper()
	mode := os.FileMode(0o666)
	return e.runLines(v2DevScript, chain(func(s *specs.Spec) {
		s.Process.Args = append([]string{"sh", "-c", v2DevScript, "sh"}, paths...)
		s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/gocker-kmsg", Type: "c", Major: 1, Minor: 11, FileMode: &mode}}
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, rules...)
	}, mods))
}

func v2DevRule(allow bool, major, minor int64, access string) specs.LinuxDeviceCgroup {
	r := specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: &major, Minor: &minor, Access: access}
	if minor < 0 {
		r.Minor = nil // wildcard
	}
	return r
}

// TestCgroupV2DeviceFilter: on v2 the device rules are an eBPF program
// attached to the container's cgroup (BPF_CGROUP_DEVICE). With the
// default deny-all a created char device cannot be opened (EPERM) while
// the runtime-spec's default devices can; an allow rule opens it for the
// access it names only; after an allow-all a deny rule still holds.
func TestCgroupV2DeviceFilter(t *testing.T) {
	requireV2(t)
	e := newEnv(t)
	k, null, zero := "/dev/gocker-kmsg", "/dev/null", "/dev/zero"
	cases := []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  []string
	}{
		{"deny all", nil, []string{k + " denied", null + " ok", zero + " ok"}},
		{"allow write", []specs.LinuxDeviceCgroup{v2DevRule(true, 1, 11, "w")}, []string{k + " ok", null + " ok"}},
		{"allow read only", []specs.LinuxDeviceCgroup{v2DevRule(true, 1, 11, "rm")}, []string{k + " denied", null + " ok"}},
		// An allow-all turns the filter into a deny list. (A deny inside
		// an allowed wildcard, "c 1:* rwm" then "c 1:11 w", is refused:
		// v1's kernel cannot punch such a hole and the library emulates
		// v1's rules.)
		{"deny after allow all", []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, v2DevRule(false, 1, 11, "w")},
			[]string{k + " denied", null + " ok", zero + " ok"}},
	}
	for _, c := range cases {
		paths := make([]string, len(c.want))
		for i, w := range c.want {
			paths[i], _, _ = strings.Cut(w, " ")
		}
		got := e.v2DevFilter(c.rules, nil, paths...)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// TestCgroupV2DeviceMknod: the default rules allow mknod ("m") of any char
// device (runc's AllowedDevices), but opening the node is still filtered
// by its major:minor.
func TestCgroupV2DeviceMknod(t *testing.T) {
	requireV2(t)
	e := newEnv(t)
	got := e.v2DevFilter(nil, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", `mknod /dev/gocker-k2 c 1 11 && mknod /dev/gocker-n2 c 1 3 && echo made
sh -c "$0" sh /dev/gocker-k2 /dev/gocker-n2`, v2DevScript}
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_MKNOD")
		c.Effective = append(c.Effective, "CAP_MKNOD")
		c.Permitted = append(c.Permitted, "CAP_MKNOD")
	})
	want := []string{"made", "/dev/gocker-k2 denied", "/dev/gocker-n2 ok"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("mknod then open: got %q, want %q", got, want)
	}
}

// v2EscapeScript starts processes that outlive the init: without a pid
// namespace the kernel does not kill them when the init dies, so only the
// cgroup knows they belong to the container.
const v2EscapeScript = `sleep 1001 & (sleep 1002 &); echo started; exec sleep 1003`

// v2StartEscapees starts a container without a pid namespace whose cgroup
// ends up holding three sleeps, and returns their pids.
func (e *env) v2StartEscapees(id string) []int {
	e.t.Helper()
	out := e.create(id, e.bundle(id, chain(sh(v2EscapeScript), dropNS(specs.PIDNamespace))))
	e.ok(e.rt("start", id))
	e.v2ReadOut(out, "started")
	var pids []int
	if !waitFor(10*time.Second, func() bool {
		pids = v2Pids(e.t, id)
		return len(pids) == 3
	}) {
		e.t.Fatalf("cgroup %s holds %v, want the three sleeps", id, pids)
	}
	for _, p := range pids {
		e.trackPid(p)
	}
	return pids
}

func (e *env) v2WantDead(pids []int) {
	e.t.Helper()
	if !waitFor(5*time.Second, func() bool {
		return !slices.ContainsFunc(pids, pidAlive)
	}) {
		e.t.Errorf("processes of the deleted container still run: %v", slices.DeleteFunc(slices.Clone(pids), func(p int) bool { return !pidAlive(p) }))
	}
}

// TestCgroupV2KillOnDelete: delete kills every process of the cgroup
// (cgroup.kill, kernel 5.14), not only the init, and removes the cgroup:
// for a running container with --force, for a stopped one whose init died
// but left children behind, and for a frozen one (cgroup.kill reaches
// frozen tasks, where v1's freezer would hold back the SIGKILL).
func TestCgroupV2KillOnDelete(t *testing.T) {
	requireV2(t)
	e := newEnv(t)

	t.Run("force running", func(t *testing.T) {
		id := e.id("v2kill-run")
		pids := e.v2StartEscapees(id)
		e.ok(e.rt("delete", "--force", id))
		e.v2WantDead(pids)
		v2WantGone(t, id)
	})
	t.Run("stopped with leftovers", func(t *testing.T) {
		id := e.id("v2kill-stopped")
		pids := e.v2StartEscapees(id)
		init := e.mustState(id).Pid
		e.ok(e.rt("kill", id, "KILL"))
		e.waitStatus(id, "stopped", 10*time.Second)
		if left := v2Pids(t, id); len(left) != 2 || slices.Contains(left, init) {
			t.Fatalf("after killing init %d the cgroup holds %v, want its two children", init, left)
		}
		e.ok(e.rt("delete", id))
		e.v2WantDead(pids)
		v2WantGone(t, id)
	})
	t.Run("force frozen", func(t *testing.T) {
		id := e.id("v2kill-frozen")
		pids := e.v2StartEscapees(id)
		if err := os.WriteFile(filepath.Join(v2Root, id, "cgroup.freeze"), []byte("1"), 0o644); err != nil {
			t.Fatal(err)
		}
		if !waitFor(5*time.Second, func() bool { return strings.Contains(v2File(t, id, "cgroup.events"), "frozen 1") }) {
			t.Fatalf("cgroup %s did not freeze: %s", id, v2File(t, id, "cgroup.events"))
		}
		e.ok(e.rt("delete", "--force", id))
		e.v2WantDead(pids)
		v2WantGone(t, id)
	})
}

// TestCgroupV2OOM: a process over memory.max is OOM-killed inside the
// container's cgroup, which memory.events counts (the source of `events`'
// oom notifications on v2).
func TestCgroupV2OOM(t *testing.T) {
	requireV2(t)
	requireV2Controller(t, "memory")
	e := newEnv(t)
	id := e.id("v2oom")
	// dd's 64 MiB buffer is charged to the cgroup as read() fills it.
	e.v2StartOOM(id)
	e.waitStatus(id, "stopped", 30*time.Second)
	events := v2File(t, id, "memory.events")
	n := -1
	for l := range strings.Lines(events) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "oom_kill "); ok {
			n, _ = strconv.Atoi(v)
		}
	}
	if n < 1 {
		t.Errorf("memory.events after the hog: %q, want oom_kill >= 1", events)
	}
	e.ok(e.rt("delete", id))
	v2WantGone(t, id)
}

func (e *env) v2StartOOM(id string) {
	e.t.Helper()
	e.createStarted(id, chain(withArgs("dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"),
		v2Res(func(r *specs.LinuxResources) {
			r.Memory = &specs.LinuxMemory{Limit: ptr[int64](16 * v2MiB), Swap: ptr[int64](16 * v2MiB)}
		})))
}

// TestCgroupV2NestedPath: a relative cgroupsPath with several components
// is created under gocker's parent with every controller enabled on the
// way down (a v2 controller works in a child only when each ancestor lists
// it in cgroup.subtree_control), and delete removes it and the parents it
// created.
func TestCgroupV2NestedPath(t *testing.T) {
	requireV2(t)
	requireV2Controller(t, "memory")
	requireV2Controller(t, "pids")
	e := newEnv(t)
	id := e.id("v2nest")
	top := e.cgroupName(id + "-top")
	rel := top + "/a/b"
	e.create(id, e.bundle(id, func(s *specs.Spec) {
		s.Linux.CgroupsPath = rel
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr[int64](40 * v2MiB)}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr[int64](9)}
	}))
	leaf := "gocker/" + rel
	v2WantFiles(t, leaf, map[string]string{"memory.max": strconv.Itoa(40 * v2MiB), "pids.max": "9"})
	for dir := filepath.Dir(leaf); dir != "."; dir = filepath.Dir(dir) {
		ctl := strings.Fields(v2File(t, dir, "cgroup.subtree_control"))
		if !slices.Contains(ctl, "memory") || !slices.Contains(ctl, "pids") {
			t.Errorf("%s/cgroup.subtree_control = %q, want memory and pids enabled", dir, ctl)
		}
	}
	if pid := e.mustState(id).Pid; !slices.Contains(v2Pids(t, leaf), pid) {
		t.Errorf("init %d is not in %s", pid, leaf)
	}
	e.ok(e.rt("delete", id))
	v2WantGone(t, "gocker/"+top)
}
