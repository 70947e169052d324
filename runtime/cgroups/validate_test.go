package cgroups

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type badCase struct {
	name  string
	res   *specs.LinuxResources
	field string
	msg   string // substring of the error
}

// createOnly cases are valid as updates: Set keeps the unset fields.
var createOnly = map[string]bool{"swap without limit": true}

func mem(m specs.LinuxMemory) *specs.LinuxResources { return &specs.LinuxResources{Memory: &m} }
func cpu(c specs.LinuxCPU) *specs.LinuxResources    { return &specs.LinuxResources{CPU: &c} }

func badCases(t *testing.T) []badCase {
	hostCPU, err := hostCPUs()
	if err != nil {
		t.Fatal(err)
	}
	online, _ := parseList(hostCPU)
	missing := 0
	for online[missing] {
		missing++
	}
	cases := []badCase{
		{"negative memory limit", mem(specs.LinuxMemory{Limit: ptr[int64](-5)}),
			"linux.resources.memory.limit", "-5 is not a valid limit"},
		{"tiny memory limit", mem(specs.LinuxMemory{Limit: ptr[int64](100)}),
			"linux.resources.memory.limit", "below the minimum of one page"},
		{"negative reservation", mem(specs.LinuxMemory{Reservation: ptr[int64](-2)}),
			"linux.resources.memory.reservation", "-2 is not a valid limit"},
		{"swap below limit", mem(specs.LinuxMemory{Limit: ptr[int64](64 * mib), Swap: ptr[int64](32 * mib)}),
			"linux.resources.memory.swap", "is less than linux.resources.memory.limit"},
		{"swap without limit", mem(specs.LinuxMemory{Swap: ptr[int64](64 * mib)}),
			"linux.resources.memory.swap", "needs linux.resources.memory.limit"},
		{"swappiness", mem(specs.LinuxMemory{Swappiness: ptr[uint64](101)}),
			"linux.resources.memory.swappiness", "101 is out of range (0-100)"},
		{"shares too small", cpu(specs.LinuxCPU{Shares: ptr[uint64](1)}),
			"linux.resources.cpu.shares", "1 is out of range"},
		{"quota below -1", cpu(specs.LinuxCPU{Quota: ptr[int64](-2)}),
			"linux.resources.cpu.quota", "-2 is not a valid quota"},
		{"quota below 1ms", cpu(specs.LinuxCPU{Quota: ptr[int64](10)}),
			"linux.resources.cpu.quota", "10 is not a valid quota"},
		{"period 0 with quota", cpu(specs.LinuxCPU{Quota: ptr[int64](50000), Period: ptr[uint64](0)}),
			"linux.resources.cpu.period", "0 is not a valid period"},
		{"period too long", cpu(specs.LinuxCPU{Period: ptr[uint64](2000000)}),
			"linux.resources.cpu.period", "2000000 is not a valid period"},
		{"burst above quota", cpu(specs.LinuxCPU{Quota: ptr[int64](50000), Burst: ptr[uint64](60000)}),
			"linux.resources.cpu.burst", "60000 exceeds linux.resources.cpu.quota 50000"},
		{"rt runtime above period", cpu(specs.LinuxCPU{RealtimeRuntime: ptr[int64](2000), RealtimePeriod: ptr[uint64](1000)}),
			"linux.resources.cpu.realtimeRuntime", "2000 exceeds"},
		{"idle", cpu(specs.LinuxCPU{Idle: ptr[int64](2)}),
			"linux.resources.cpu.idle", "2 is not valid"},
		{"cpu outside host", cpu(specs.LinuxCPU{Cpus: strconv.Itoa(missing)}),
			"linux.resources.cpu.cpus", fmt.Sprintf("cpu %d does not exist (host has %s)", missing, hostCPU)},
		{"cpu list syntax", cpu(specs.LinuxCPU{Cpus: "abc"}),
			"linux.resources.cpu.cpus", `"abc" is not a valid list`},
		{"reversed range", cpu(specs.LinuxCPU{Cpus: "1-0"}),
			"linux.resources.cpu.cpus", "not a valid range"},
		{"mem node outside host", cpu(specs.LinuxCPU{Mems: "63"}),
			"linux.resources.cpu.mems", "memory node 63 does not exist"},
		{"pids below -1", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-2)}},
			"linux.resources.pids.limit", "-2 is not a valid limit"},
		{"blkio weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](5)}},
			"linux.resources.blockIO.weight", "5 is out of range (10-1000)"},
		{"blkio weight device", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{
			{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8}, Weight: ptr[uint16](2000)}}}},
			"linux.resources.blockIO.weightDevice[0].weight", "2000 is out of range"},
		{"blkio throttle device", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{
			{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: -3}, Rate: 1}}}},
			"linux.resources.blockIO.throttleReadBpsDevice[0]", "-3:0 is not a valid device number"},
		{"unknown device type", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "x", Access: "r"}}},
			"linux.resources.devices[0].type", `"x" is not a valid device type`},
		{"bad device access", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{}, {Allow: true, Type: "c", Access: "rwx"}}},
			"linux.resources.devices[1].access", `"rwx" is not a valid access`},
		{"hugepage size", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "3MB", Limit: 1}}},
			"linux.resources.hugepageLimits[0].pageSize", `"3MB" is not a huge page size of this host`},
	}
	emptyPrio := &specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Priority: 1}}}}
	if IsV2() {
		// net_cls/net_prio do not exist in v2: any network field is
		// refused as a whole before its contents are looked at.
		return append(cases,
			badCase{"network on v2", emptyPrio, "linux.resources.network", "requires cgroup v1"},
			badCase{"unified key with a slash", &specs.LinuxResources{Unified: map[string]string{"../memory.max": "1"}},
				"linux.resources.unified", "is not a cgroup file name"},
			badCase{"unified key without a controller", &specs.LinuxResources{Unified: map[string]string{"max": "1"}},
				"linux.resources.unified", "is not a cgroup file name"})
	}
	cases = append(cases, badCase{"empty priority name", emptyPrio,
		"linux.resources.network.priorities[0].name", "must not be empty"})
	cases = append(cases, badCase{"unified on v1", &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}},
		"linux.resources.unified", "requires cgroup v2"})
	// A controller this host lacks is refused up front.
	if sizes := cgroups.HugePageSizes(); len(sizes) > 0 && !mounted("hugetlb") {
		cases = append(cases, badCase{"hugetlb not mounted",
			&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: sizes[0], Limit: 2 * mib}}},
			"linux.resources.hugepageLimits", "the hugetlb cgroup controller is not available"})
	}
	if !mounted("net_cls") {
		cases = append(cases, badCase{"net_cls not mounted",
			&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](0x100001)}},
			"linux.resources.network.classID", "the net_cls cgroup controller is not available"})
	}
	return cases
}

func mounted(controller string) bool {
	_, err := cgroups.FindCgroupMountpoint("", controller)
	return err == nil
}

func TestBadInputRefusedByNew(t *testing.T) {
	requireRoot(t)
	for _, c := range badCases(t) {
		t.Run(c.name, func(t *testing.T) {
			id := testID(t)
			m, err := New(id, "", c.res, Options{})
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("New = %v, %v; want a FieldError", m, err)
			}
			if fe.Field != c.field || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q; want field %s and %q", err, c.field, c.msg)
			}
			if !strings.HasPrefix(err.Error(), c.field+": ") {
				t.Errorf("error %q does not start with the field name", err)
			}
			assertNoTestLeftovers(t, id)
		})
	}
}

// The brief's example message, word for word.
func TestNegativeMemoryMessage(t *testing.T) {
	_, err := New("gocker-test-msg", "", mem(specs.LinuxMemory{Limit: ptr[int64](-5)}), Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.memory.limit: -5 is not a valid limit") {
		t.Errorf("got %v", err)
	}
}

func TestBadInputRefusedBySet(t *testing.T) {
	requireV1(t)
	m := newManager(t, testID(t), "", limitsSpec(), Options{})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, m, "memory", "memory.limit_in_bytes")
	for _, c := range badCases(t) {
		if createOnly[c.name] {
			continue
		}
		err := m.Set(c.res)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: Set = %v, want a %s error", c.name, err, c.field)
		}
	}
	if got := readFile(t, m, "memory", "memory.limit_in_bytes"); got != before {
		t.Errorf("refused updates changed memory.limit_in_bytes %s -> %s", before, got)
	}
}

func TestValidInputAccepted(t *testing.T) {
	requireRoot(t)
	hostCPU, _ := hostCPUs()
	res := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false}, {Allow: true, Type: "c", Major: ptr[int64](10), Minor: ptr[int64](200)}},
		Memory: &specs.LinuxMemory{Limit: ptr[int64](-1), Reservation: ptr[int64](-1), Swappiness: ptr[uint64](swappinessUnset),
			Kernel: ptr[int64](mib)}, //nolint:staticcheck // checks it is ignored
		CPU:     &specs.LinuxCPU{Shares: ptr[uint64](2), Quota: ptr[int64](-1), Period: ptr[uint64](1000000), Cpus: hostCPU, Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](-1)},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](10)},
	}
	if _, err := New(testID(t), "", res, Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestConvert(t *testing.T) {
	res := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "b", Major: ptr[int64](8)}},
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](64 * mib), Swap: ptr[int64](128 * mib), DisableOOMKiller: ptr(true)},
		CPU:     &specs.LinuxCPU{Shares: ptr[uint64](1024), Burst: ptr[uint64](5)},
		Network: &specs.LinuxNetwork{ClassID: ptr[uint32](7), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 3}}},
	}
	r, err := Convert(res, true, false)
	if err != nil {
		t.Fatal(err)
	}
	// cpu.weight is the caller's job with this library (fs2/cpu.go).
	if r.CpuShares != 1024 || r.CpuWeight != cgroups.ConvertCPUSharesToCgroupV2Value(1024) || r.CpuWeight == 0 {
		t.Errorf("shares %d weight %d", r.CpuShares, r.CpuWeight)
	}
	if r.Memory != 64*mib || r.MemorySwap != 128*mib || !r.OomKillDisable || *r.CpuBurst != 5 {
		t.Errorf("memory/burst not converted: %+v", r)
	}
	if r.NetClsClassid != 7 || len(r.NetPrioIfpriomap) != 1 || r.NetPrioIfpriomap[0].CgroupString() != "eth0 3" {
		t.Errorf("network not converted: %+v", r)
	}
	if n := len(r.Devices); n != 2+len(defaultDeviceRules) {
		t.Fatalf("%d device rules, want the 2 given plus %d defaults", n, len(defaultDeviceRules))
	}
	if got := r.Devices[1].CgroupString(); got != "b 8:* rwm" {
		t.Errorf("rule with no minor and no access = %q, want %q", got, "b 8:* rwm")
	}
	var strs []string
	for _, d := range r.Devices[2:] {
		strs = append(strs, d.CgroupString())
	}
	if !slices.Contains(strs, "c 1:3 rwm") || !slices.Contains(strs, "c 5:2 rwm") {
		t.Errorf("default rules %v lack /dev/null or /dev/ptmx", strs)
	}
	if v1, _ := Convert(res, false, false); v1.CpuWeight != 0 {
		t.Errorf("v1 conversion set cpu weight %d", v1.CpuWeight)
	}
	if upd, _ := Convert(&specs.LinuxResources{}, false, true); !upd.SkipDevices || upd.Devices != nil {
		t.Errorf("an update without devices must skip them: %+v", upd)
	}
	if _, err := Convert(&specs.LinuxResources{Unified: map[string]string{"a.b": "1"}}, false, false); err == nil ||
		err.Error() != "linux.resources.unified: requires cgroup v2" {
		t.Errorf("unified on v1: %v", err)
	}
}

func TestParseSystemdPath(t *testing.T) {
	c := &cgroups.Cgroup{}
	if err := parseSystemdPath(c, "id", "system.slice:docker:abc"); err != nil {
		t.Fatal(err)
	}
	if c.Parent != "system.slice" || c.ScopePrefix != "docker" || c.Name != "abc" {
		t.Errorf("parsed %+v", c)
	}
	c = &cgroups.Cgroup{}
	if err := parseSystemdPath(c, "id", ""); err != nil || c.ScopePrefix != "gocker" || c.Name != "id" {
		t.Errorf("default: %+v, %v", c, err)
	}
	for _, bad := range []string{"/abs/path", "a:b", "system:docker:x", "system.slice:docker:"} {
		if err := parseSystemdPath(&cgroups.Cgroup{}, "id", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseList(t *testing.T) {
	set, err := parseList("0-2,5,7-8")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 2, 5, 7, 8} {
		if !set[n] {
			t.Errorf("%d missing", n)
		}
	}
	if len(set) != 6 {
		t.Errorf("set %v has extra members", set)
	}
	for _, bad := range []string{"", "a", "1-", "-1", "3-1", "0-99999999", "1,,2"} {
		if _, err := parseList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
