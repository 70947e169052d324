package cgroups

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const mib = 1 << 20

func limitsSpec() *specs.LinuxResources {
	return &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](64 * mib), Swap: ptr[int64](64 * mib)},
		CPU: &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000),
			Cpus: "0", Mems: "0"},
		Pids: &specs.LinuxPids{Limit: ptr[int64](32)},
	}
}

func TestApplyWritesLimits(t *testing.T) {
	requireV1(t)
	id := testID(t)
	m := newManager(t, id, "", limitsSpec(), Options{})
	sleep := sleeperIn(t, m)
	if !m.Created() {
		t.Error("Created() = false for a new cgroup")
	}
	if want := "/sys/fs/cgroup/memory/" + DefaultPrefix + id; m.Paths()["memory"] != want {
		t.Errorf("memory path = %q, want %q", m.Paths()["memory"], want)
	}
	expectFile(t, m, "memory", "memory.limit_in_bytes", strconv.Itoa(64*mib))
	expectFile(t, m, "memory", "memory.memsw.limit_in_bytes", strconv.Itoa(64*mib))
	expectFile(t, m, "cpu", "cpu.cfs_quota_us", "50000")
	expectFile(t, m, "cpu", "cpu.cfs_period_us", "100000")
	expectFile(t, m, "cpu", "cpu.shares", "512")
	expectFile(t, m, "pids", "pids.max", "32")
	expectFile(t, m, "cpuset", "cpuset.cpus", "0")
	expectFile(t, m, "cpuset", "cpuset.mems", "0")
	// Deny-all from the config, then runc's default allow list.
	devs := readFile(t, m, "devices", "devices.list")
	for _, want := range []string{"c 1:3 rwm", "c 1:5 rwm", "c 136:* rwm", "c *:* m", "b *:* m"} {
		if !strings.Contains(devs, want) {
			t.Errorf("devices.list lacks %q:\n%s", want, devs)
		}
	}
	if strings.Contains(devs, "a *:* rwm") {
		t.Errorf("devices.list still allows everything:\n%s", devs)
	}
	for ctrl, dir := range m.Paths() {
		procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(strings.Fields(string(procs)), strconv.Itoa(sleep.pid())) {
			t.Errorf("pid %d not in %q cgroup %s", sleep.pid(), ctrl, dir)
		}
	}
	pids, err := m.Pids()
	if err != nil || !slices.Equal(pids, []int{sleep.pid()}) {
		t.Errorf("Pids() = %v, %v; want [%d]", pids, err, sleep.pid())
	}
}

func TestHugetlbLimit(t *testing.T) {
	requireV1(t)
	sizes := cgroups.HugePageSizes()
	if len(sizes) == 0 || !mounted("hugetlb") {
		t.Skip("needs huge pages and the hugetlb controller mounted")
	}
	res := &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: sizes[0], Limit: 0}}}
	m := newManager(t, testID(t), "", res, Options{})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	expectFile(t, m, "hugetlb", "hugetlb."+sizes[0]+".limit_in_bytes", "0")
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Hugetlb[sizes[0]]; !ok {
		t.Errorf("stats lack hugetlb %s: %v", sizes[0], st.Hugetlb)
	}
}

func TestSetUpdates(t *testing.T) {
	requireV1(t)
	m := newManager(t, testID(t), "", limitsSpec(), Options{})
	sleeperIn(t, m)
	devsBefore := readFile(t, m, "devices", "devices.list")
	err := m.Set(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](32 * mib), Swap: ptr[int64](48 * mib)},
		CPU:    &specs.LinuxCPU{Quota: ptr[int64](20000)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](16)},
	})
	if err != nil {
		t.Fatal(err)
	}
	expectFile(t, m, "memory", "memory.limit_in_bytes", strconv.Itoa(32*mib))
	expectFile(t, m, "memory", "memory.memsw.limit_in_bytes", strconv.Itoa(48*mib))
	expectFile(t, m, "cpu", "cpu.cfs_quota_us", "20000")
	expectFile(t, m, "cpu", "cpu.cfs_period_us", "100000") // unset: kept
	expectFile(t, m, "pids", "pids.max", "16")
	expectFile(t, m, "cpuset", "cpuset.cpus", "0")
	if got := readFile(t, m, "devices", "devices.list"); got != devsBefore {
		t.Errorf("an update without devices changed devices.list:\n%s\nwas:\n%s", got, devsBefore)
	}
	// -1 lifts the pids limit.
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}}); err != nil {
		t.Fatal(err)
	}
	expectFile(t, m, "pids", "pids.max", "max")
}

func TestSetMemoryBelowUsage(t *testing.T) {
	requireV1(t)
	res := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](256 * mib)}}
	m := newManager(t, testID(t), "", res, Options{})
	hog := allocatedIn(t, m, 32)
	// Anonymous memory cannot be reclaimed without swap, so the kernel
	// refuses the limit with EBUSY; with swap it may page out instead.
	if swapTotal(t) > 0 {
		t.Skip("host has swap: the kernel can meet the lower limit by swapping")
	}
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](8 * mib)}})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "linux.resources.memory.limit" ||
		!strings.Contains(err.Error(), "is below the container's current usage") {
		t.Fatalf("Set below usage: %v; want a linux.resources.memory.limit error about current usage", err)
	}
	expectFile(t, m, "memory", "memory.limit_in_bytes", strconv.Itoa(256*mib))
	if !alive(hog.pid()) {
		t.Error("the refused update killed the process")
	}
}

func swapTotal(t *testing.T) int {
	b, err := os.ReadFile("/proc/swaps")
	if err != nil {
		t.Fatal(err)
	}
	return len(strings.Split(strings.TrimSpace(string(b)), "\n")) - 1
}

func TestFreezeThaw(t *testing.T) {
	requireV1(t)
	m := newManager(t, testID(t), "", nil, Options{})
	sleeperIn(t, m)
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() before Freeze = %v, %v", frozen, err)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	expectFile(t, m, "freezer", "freezer.state", "FROZEN")
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Fatalf("Frozen() after Freeze = %v, %v", frozen, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	expectFile(t, m, "freezer", "freezer.state", "THAWED")
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() after Thaw = %v, %v", frozen, err)
	}
}

func TestKillAllForkingTree(t *testing.T) {
	requireV1(t)
	m := newManager(t, testID(t), "", nil, Options{})
	// Orphaned grandchildren, a nested shell, and a loop that keeps
	// forking: everything KillAll must catch.
	tree := startShell(t, `(sleep 1000 &); sh -c 'sleep 1000 & sleep 1000' & `+
		`while :; do sleep 1000 & sleep 0.01; done`)
	if err := m.Apply(tree.pid()); err != nil {
		t.Fatal(err)
	}
	tree.release(t)
	var pids []int
	for deadline := time.Now().Add(5 * time.Second); len(pids) < 8; time.Sleep(20 * time.Millisecond) {
		var err error
		if pids, err = m.Pids(); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("tree did not grow: %v", pids)
		}
	}
	if err := m.KillAll(); err != nil {
		t.Fatal(err)
	}
	if left, err := m.Pids(); err != nil || len(left) != 0 {
		t.Fatalf("Pids() after KillAll = %v, %v", left, err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d survived KillAll", pid)
		}
	}
	if sig := tree.waitExit(t, 5*time.Second); sig != syscall.SIGKILL {
		t.Errorf("shell ended by signal %v, want SIGKILL", sig)
	}
}

func TestDestroyLeavesNothing(t *testing.T) {
	requireV1(t)
	id := testID(t)
	m := newManager(t, id, "", limitsSpec(), Options{})
	sleeperIn(t, m)
	if !m.Exists() {
		t.Fatal("Exists() = false after Apply")
	}
	if err := m.KillAll(); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Error("Exists() = true after Destroy")
	}
	assertGone(t, m)
	assertNoTestLeftovers(t, id)
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// TestOOMEvent: an allocation over the limit is OOM-killed and OOMEvents
// reports it (v1 eventfd, v2 memory.events); runs on both hierarchies.
func TestOOMEvent(t *testing.T) {
	requireRoot(t)
	res := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](8 * mib), Swap: ptr[int64](8 * mib)}}
	m := newManager(t, testID(t), "", res, Options{})
	hog := startHog(t)
	if err := m.Apply(hog.pid()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := m.OOMEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-events:
		t.Fatal("OOM event before any allocation")
	case <-time.After(100 * time.Millisecond):
	}
	hog.release(t)
	select {
	case _, ok := <-events:
		if !ok {
			t.Fatal("events closed without an OOM")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no OOM event")
	}
	if sig := hog.waitExit(t, 10*time.Second); sig != syscall.SIGKILL {
		t.Errorf("hog ended by signal %v, want SIGKILL from the OOM killer", sig)
	}
	cancel()
	select {
	case <-events: // drained or closed
	case <-time.After(5 * time.Second):
		t.Fatal("events not closed after cancel")
	}
}

// startHog starts a shell that, once released, holds 64MiB in a variable.
// A shell rather than the Go helper: its footprint before the allocation
// is far below 8MiB, even for a -race test binary.
func startHog(t *testing.T) *proc {
	return startShell(t, "x=$(head -c 67108864 /dev/zero | tr '\\0' a); exec sleep 1000")
}

func TestStats(t *testing.T) {
	requireV1(t)
	m := newManager(t, testID(t), "", limitsSpec(), Options{})
	burner := startShell(t, `i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo done; exec sleep 1000`)
	if err := m.Apply(burner.pid()); err != nil {
		t.Fatal(err)
	}
	burner.release(t)
	if line := burner.readLine(t); line != "done" {
		t.Fatalf("burner said %q", line)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.CPU.Usage.Total == 0 || len(st.CPU.Usage.Percpu) == 0 {
		t.Errorf("cpu usage = %+v, want nonzero", st.CPU.Usage)
	}
	if st.Memory.Usage.Usage == 0 || st.Memory.Usage.Limit != 64*mib {
		t.Errorf("memory usage = %+v, want nonzero usage and limit %d", st.Memory.Usage, 64*mib)
	}
	if st.Pids.Current != 1 || st.Pids.Limit != 32 {
		t.Errorf("pids = %+v, want current 1 limit 32", st.Pids)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	usage, _ := generic["cpu"]["usage"].(map[string]any)
	if _, ok := usage["total"]; !ok {
		t.Errorf("JSON lacks cpu.usage.total: %s", raw)
	}
	mem := generic["memory"]
	if _, ok := mem["usage"]; !ok {
		t.Errorf("JSON lacks memory.usage: %s", raw)
	}
	if _, ok := generic["pids"]["current"]; !ok {
		t.Errorf("JSON lacks pids.current: %s", raw)
	}
}

func TestNestedRelativePath(t *testing.T) {
	requireV1(t)
	id := testID(t)
	m := newManager(t, id, id+"/nested/deep", nil, Options{})
	want := filepath.Join("/sys/fs/cgroup/memory", Parent, id, "nested/deep")
	if got := m.Paths()["memory"]; got != want {
		t.Fatalf("memory path = %q, want %q", got, want)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	for ctrl, p := range m.Paths() {
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			t.Errorf("%s: %s not created: %v", ctrl, p, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	// The intermediate directories under the gocker parent go too.
	assertNoTestLeftovers(t, id)
}

func TestAbsolutePathOutsideParent(t *testing.T) {
	requireV1(t)
	id := testID(t)
	m := newManager(t, id, "/"+id, nil, Options{})
	if got, want := m.Paths()["pids"], "/sys/fs/cgroup/pids/"+id; got != want {
		t.Fatalf("pids path = %q, want %q", got, want)
	}
	sleep := sleeperIn(t, m)
	expectFile(t, m, "pids", "cgroup.procs", strconv.Itoa(sleep.pid()))
	if err := m.KillAll(); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertNoTestLeftovers(t, id)
}

func TestPathResolution(t *testing.T) {
	requireRoot(t)
	memRoot := "/sys/fs/cgroup/memory"
	if IsV2() {
		memRoot = "/sys/fs/cgroup"
	}
	key := "memory"
	if IsV2() {
		key = ""
	}
	for _, c := range []struct{ path, want string }{
		{"", "/" + DefaultPrefix + "gocker-test-x"},
		{"a/b", Parent + "/a/b"},
		{"../../escape", Parent + "/escape"},
		{"/gocker-test-abs/c", "/gocker-test-abs/c"},
		{"/gocker-test-abs/../d", "/d"},
	} {
		m, err := New("gocker-test-x", c.path, nil, Options{})
		if err != nil {
			t.Errorf("New(%q): %v", c.path, err)
			continue
		}
		got := m.Paths()[key]
		if want := memRoot + c.want; got != want {
			t.Errorf("cgroupsPath %q -> %q, want %q", c.path, got, want)
		}
		if m.Exists() {
			t.Errorf("New(%q) created %s", c.path, got)
		}
	}
	for _, bad := range []string{"/", "/..", Parent, "system.slice:docker:abc"} {
		_, err := New("gocker-test-x", bad, nil, Options{})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "linux.cgroupsPath" {
			t.Errorf("New(%q) = %v, want a linux.cgroupsPath error", bad, err)
		}
	}
}

// TestJoinSharedCgroup: joining a cgroup that already has processes makes
// it shared; KillAll refuses and Destroy leaves it and its processes alone.
// Nothing here is hierarchy-specific: it runs on this v1 host and in the
// cgroup v2 VM (make test-cgroupv2).
func TestJoinSharedCgroup(t *testing.T) {
	requireRoot(t)
	id := testID(t)
	owner := newManager(t, id, "", nil, Options{})
	first := sleeperIn(t, owner)
	joiner := newManager(t, "other", "/"+DefaultPrefix+id, nil, Options{})
	second := sleeperIn(t, joiner)
	if joiner.Created() {
		t.Error("Created() = true for a cgroup that had a process already")
	}
	if err := joiner.KillAll(); !errors.Is(err, ErrShared) {
		t.Errorf("KillAll on a shared cgroup = %v, want ErrShared", err)
	}
	if err := joiner.Destroy(); err != nil {
		t.Fatal(err)
	}
	// A later command learns the fact from the caller's state.
	later, err := New("other", "/"+DefaultPrefix+id, nil, Options{Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := later.Destroy(); err != nil {
		t.Fatal(err)
	}
	if !owner.Exists() || !alive(first.pid()) || !alive(second.pid()) {
		t.Fatal("Destroy of a joined cgroup removed it or its processes")
	}
	pids, _ := owner.Pids()
	slices.Sort(pids)
	want := []int{first.pid(), second.pid()}
	slices.Sort(want)
	if !slices.Equal(pids, want) {
		t.Errorf("Pids() = %v, want %v", pids, want)
	}
}

func TestEmptyExistingCgroupIsAdopted(t *testing.T) {
	requireV1(t)
	id := testID(t)
	pre := newManager(t, id, "", nil, Options{})
	if err := pre.Apply(-1); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, id, "", nil, Options{})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if !m.Created() {
		t.Error("an empty leftover cgroup should be owned (Created() = true)")
	}
}

func TestApplyFailureRollsBack(t *testing.T) {
	requireV1(t)
	// Valid for New, refused by the kernel at Apply: a pid that is gone.
	m := newManager(t, testID(t), "", limitsSpec(), Options{})
	if err := m.Apply(1 << 22); err == nil {
		t.Fatal("Apply of a nonexistent pid succeeded")
	}
	assertGone(t, m)
}

func TestSystemdNotRunning(t *testing.T) {
	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSpace(string(comm))
	if name == "systemd" {
		t.Skip("systemd is PID 1 here")
	}
	_, err = New("gocker-test-sd", "system.slice:gocker:x", nil, Options{Systemd: true})
	want := `systemd cgroup driver requested but systemd is not running (PID 1 is "` + name + `")`
	if err == nil || err.Error() != want {
		t.Errorf("New with Systemd = %v, want %q", err, want)
	}
}

func TestV2Files(t *testing.T) {
	requireRoot(t)
	if !IsV2() {
		t.Skip("needs the cgroup v2 unified hierarchy; this host is v1 (the v2 VM harness runs it)")
	}
	m := newManager(t, testID(t), "", limitsSpec(), Options{})
	sleep := sleeperIn(t, m)
	expectFile(t, m, "", "memory.max", strconv.Itoa(64*mib))
	if _, err := os.Stat(filepath.Join(m.Paths()[""], "memory.swap.max")); err == nil {
		expectFile(t, m, "", "memory.swap.max", "0") // memory+swap == memory: no swap
	}
	expectFile(t, m, "", "cpu.max", "50000 100000")
	expectFile(t, m, "", "pids.max", "32")
	expectFile(t, m, "", "cpuset.cpus", "0")
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Fatalf("Frozen() = %v, %v", frozen, err)
	}
	if err := m.KillAll(); err != nil {
		t.Fatal(err)
	}
	if sig := sleep.waitExit(t, 5*time.Second); sig != syscall.SIGKILL {
		t.Errorf("sleep ended by %v, want SIGKILL", sig)
	}
}
