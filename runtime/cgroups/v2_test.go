package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Tests of the cgroup v2 code paths. This machine is v1 hybrid; they run
// inside the VM of `make test-cgroupv2` (integration/cgroupv2/).

func requireV2(t *testing.T) {
	t.Helper()
	requireRoot(t)
	if !IsV2() {
		t.Skip("needs the cgroup v2 unified hierarchy; this host is v1 (the v2 VM harness runs it)")
	}
}

// pidsCtrl is the Paths key of pids.max: the pids hierarchy on v1, the one
// directory on v2.
func pidsCtrl() string {
	if IsV2() {
		return ""
	}
	return "pids"
}

// TestCreateThenSetLimits: Create makes the cgroup with the kernel's
// defaults, so the init can join and set up unhindered; SetLimits writes
// the configured values afterwards.
func TestCreateThenSetLimits(t *testing.T) {
	requireRoot(t)
	res := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](7)}}
	m := newManager(t, testID(t), "", res, Options{})
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	expectFile(t, m, pidsCtrl(), "pids.max", "max")
	sleep := startShell(t, "exec sleep 1000")
	if err := m.AddPid(sleep.pid(), nil); err != nil {
		t.Fatal(err)
	}
	if err := m.SetLimits(); err != nil {
		t.Fatal(err)
	}
	expectFile(t, m, pidsCtrl(), "pids.max", "7")
	if !m.Created() {
		t.Error("Created() = false for a cgroup Create made")
	}
}

// TestV2FailedSetLeavesCgroupToCaller: when the kernel refuses a limit
// after the pid joined, Apply returns at once and leaves the cgroup (with
// the process) to the caller, whose KillAll and Destroy then remove it.
func TestV2FailedSetLeavesCgroupToCaller(t *testing.T) {
	requireV2(t)
	res := &specs.LinuxResources{Unified: map[string]string{"memory.gocker_no_such_file": "1"}}
	m := newManager(t, testID(t), "", res, Options{})
	sleep := startShell(t, "exec sleep 1000")
	err := m.Apply(sleep.pid())
	if err == nil || !strings.Contains(err.Error(), "memory.gocker_no_such_file") {
		t.Fatalf("Apply with an unknown unified key = %v, want an error naming it", err)
	}
	if !m.Created() || !m.Exists() {
		t.Fatalf("after the failed Apply: Created() = %v, Exists() = %v; want the cgroup left to the caller", m.Created(), m.Exists())
	}
	if err := m.KillAll(); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m)
}

// TestV2FailedSetWithoutProcessRollsBack: an empty cgroup whose limits are
// refused is removed by Apply itself.
func TestV2FailedSetWithoutProcessRollsBack(t *testing.T) {
	requireV2(t)
	res := &specs.LinuxResources{Unified: map[string]string{"pids.gocker_no_such_file": "1"}}
	m := newManager(t, testID(t), "", res, Options{})
	if err := m.Apply(-1); err == nil {
		t.Fatal("Apply with an unknown unified key succeeded")
	}
	assertGone(t, m)
}

// TestV2SetMemoryBelowUsage: v2's kernel accepts any memory.max and then
// OOM-kills to meet it, so Set itself refuses a limit below the usage, as
// v1's kernel does, unless memory.checkBeforeUpdate is explicitly false.
func TestV2SetMemoryBelowUsage(t *testing.T) {
	requireV2(t)
	res := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](256 * mib)}}
	m := newManager(t, testID(t), "", res, Options{})
	hog := allocatedIn(t, m, 32)
	for _, c := range []struct {
		mem   specs.LinuxMemory
		field string
	}{
		{specs.LinuxMemory{Limit: ptr[int64](8 * mib)}, "linux.resources.memory.limit"},
		// An update may give memory+swap alone; the limit stays.
		{specs.LinuxMemory{Swap: ptr[int64](16 * mib)}, "linux.resources.memory.swap"},
	} {
		err := m.Set(&specs.LinuxResources{Memory: &c.mem})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), "below the container's current") {
			t.Errorf("Set %+v below usage: %v; want a %s error about current usage", c.mem, err, c.field)
		}
	}
	expectFile(t, m, "", "memory.max", strconv.Itoa(256*mib))
	if !alive(hog.pid()) {
		t.Fatal("a refused update killed the process")
	}
	// Opting out gives the kernel's semantics: the limit is written and
	// the kernel reclaims or OOM-kills to meet it.
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](8 * mib), CheckBeforeUpdate: ptr(false)}})
	if err != nil {
		t.Fatalf("Set with checkBeforeUpdate false: %v", err)
	}
	expectFile(t, m, "", "memory.max", strconv.Itoa(8*mib))
}

// TestV2NestedPathAndPrune: a relative path with several components gets
// every controller enabled on the way down, and Destroy removes the parents
// it created up to and including /gocker when they are empty.
func TestV2NestedPathAndPrune(t *testing.T) {
	requireV2(t)
	id := testID(t)
	res := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](32 * mib)}, Pids: &specs.LinuxPids{Limit: ptr[int64](10)}}
	m := newManager(t, id, id+"/a/b", res, Options{})
	sleeperIn(t, m)
	leaf := m.Paths()[""]
	if want := filepath.Join(fs2Root, Parent, id, "a", "b"); leaf != want {
		t.Fatalf("path %s, want %s", leaf, want)
	}
	expectFile(t, m, "", "memory.max", strconv.Itoa(32*mib))
	expectFile(t, m, "", "pids.max", "10")
	for dir := filepath.Dir(leaf); dir != fs2Root; dir = filepath.Dir(dir) {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
		if err != nil {
			t.Fatal(err)
		}
		if ctl := strings.Fields(string(b)); !slices.Contains(ctl, "memory") || !slices.Contains(ctl, "pids") {
			t.Errorf("%s/cgroup.subtree_control = %q, want memory and pids", dir, ctl)
		}
	}
	if err := m.KillAll(); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(fs2Root, Parent, id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("parent %s/%s left after Destroy (stat: %v)", Parent, id, err)
	}
}

// TestV2StatsAndFreeze: stats come from the v2 files (memory.current,
// pids.current, cpu.stat) and Freeze/Thaw drive cgroup.freeze.
func TestV2StatsAndFreeze(t *testing.T) {
	requireV2(t)
	m := newManager(t, testID(t), "", limitsSpec(), Options{})
	// Charges stay where a page was first touched, so the helper
	// allocates after it joined.
	sleep := startHelper(t, "alloc=4")
	if err := m.Apply(sleep.pid()); err != nil {
		t.Fatal(err)
	}
	sleep.release(t)
	if line := sleep.readLine(t); line != "allocated" {
		t.Fatalf("helper said %q", line)
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// pids counts tasks: the Go helper has several threads.
	if s.Pids.Current < 1 || s.Pids.Limit != 32 {
		t.Errorf("pids stats %+v, want current >= 1 limit 32", s.Pids)
	}
	if s.Memory.Usage.Limit != 64*mib || s.Memory.Usage.Usage < 4*mib {
		t.Errorf("memory usage stats %+v, want limit %d and usage >= 4 MiB", s.Memory.Usage, 64*mib)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	expectFile(t, m, "", "cgroup.freeze", "1")
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Errorf("Frozen() = %v, %v after Freeze", frozen, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Errorf("Frozen() = %v, %v after Thaw", frozen, err)
	}
	// KillAll on a frozen v2 cgroup: cgroup.kill reaches frozen tasks.
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := m.KillAll(); err != nil {
		t.Fatal(err)
	}
	sleep.waitExit(t, 5*time.Second)
}
